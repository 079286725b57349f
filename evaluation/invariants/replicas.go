package invariants

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
)

// replicaConfig runs each episode on n hubs sharing the Redis at url
// (n < 2: one hub over an in-memory store).
type replicaConfig struct {
	n   int
	url string
}

// replicaSet is an episode's hubs as the platform sees them: each message
// and each answer goes to a random replica.
type replicaSet struct {
	hubs []*hub.Hub

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

func (r *replicaSet) pick() *hub.Hub {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hubs[r.rng.IntN(len(r.hubs))]
}

// Handle implements chat.Assistant on a random replica.
func (r *replicaSet) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	r.pick().Handle(ctx, m, c)
}

// Answer implements chat.Assistant on a random replica.
func (r *replicaSet) Answer(ctx context.Context, a chat.Answer) error {
	return r.pick().Answer(ctx, a)
}

// Close closes every replica's hub (its warm spokes end).
func (r *replicaSet) Close() error {
	var errs []error
	for _, h := range r.hubs {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

// replicas is an episode's running replicas over one Redis namespace.
type replicas struct {
	set    *replicaSet
	truth  state.Decisions
	admin  *goredis.Client
	ns     string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closer []func() error
	// cuts counts the connections chaos cut.
	cuts atomic.Int64
}

// startReplicas starts rc.n hubs made by o (each with its own store
// connection, wrapped by wrap, and its relay) in a namespace of their own,
// and a chaos goroutine that cuts the namespace's Redis connections at
// random points until stop, as a Redis restart would (CLIENT KILL: a
// real restart takes seconds, and with no persistence would also lose
// the data, which no deployment should run with).
func startReplicas(ctx context.Context, rc replicaConfig, ns string, rng *rand.Rand, wrap func(state.Store) state.Store, o hub.Options) (*replicas, error) {
	r := &replicas{set: &replicaSet{rng: rand.New(rand.NewPCG(rng.Uint64(), 7))}, ns: ns}
	opt, err := goredis.ParseURL(rc.url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	r.admin = goredis.NewClient(opt)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	for i := 0; i < rc.n; i++ {
		st, err := redis.Open(ctx, rc.url, redis.Options{Namespace: ns, ClientName: ns})
		if err != nil {
			r.close()
			return nil, err
		}
		r.closer = append(r.closer, st.Close)
		if r.truth == nil {
			r.truth = st
		}
		rl := st.Relay(redis.RelayOptions{Logger: o.Logger})
		id := fmt.Sprintf("r%d", i)
		if err := rl.Heartbeat(ctx, id, time.Hour); err != nil {
			r.close()
			return nil, err
		}
		ho := o
		ho.Store, ho.Relay, ho.Liveness, ho.UserEvents, ho.ReplicaID = wrap(st), rl, rl, rl, id
		h, err := hub.New(ho)
		if err != nil {
			r.close()
			return nil, err
		}
		r.set.hubs = append(r.set.hubs, h)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			_ = h.Run(rctx)
		}()
	}
	seed := rng.Uint64()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.chaos(rctx, rand.New(rand.NewPCG(seed, 9)))
	}()
	return r, nil
}

// chaos cuts the namespace's connections every 20 to 400 ms.
func (r *replicas) chaos(ctx context.Context, rng *rand.Rand) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(20+rng.IntN(380)) * time.Millisecond):
		}
		list, err := r.admin.ClientList(ctx).Result()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(list, "\n") {
			var id string
			named := false
			for _, f := range strings.Fields(line) {
				k, v, _ := strings.Cut(f, "=")
				switch {
				case k == "id":
					id = v
				case k == "name" && v == r.ns:
					named = true
				}
			}
			if named && id != "" && r.admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err() == nil {
				r.cuts.Add(1)
			}
		}
	}
}

// stop ends the chaos and the replicas' background work.
func (r *replicas) stop() {
	r.cancel()
	r.wg.Wait()
}

// close deletes the namespace's keys and closes the connections.
func (r *replicas) close() {
	if r.cancel != nil {
		r.stop()
	}
	ctx := context.Background()
	iter := r.admin.Scan(ctx, 0, r.ns+":*", 500).Iterator()
	for iter.Next(ctx) {
		_ = r.admin.Del(ctx, iter.Val()).Err()
	}
	for _, c := range r.closer {
		_ = c()
	}
	_ = r.admin.Close()
}
