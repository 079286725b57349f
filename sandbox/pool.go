package sandbox

import (
	"context"
	"runtime/pprof"
	"sync"
)

// The pool: spokes started ahead of need, sandboxed up to the point where
// they wait for their launch frame. Config.Pool of them are kept at all
// times; while the hub expects starts (Prepare: conversations planning,
// their model's latency leaving the CPU idle), up to one more per
// expected start is kept, within Config.PoolMemory. A pooled spoke holds
// no policy, app or user until claimed, and is claimed once: it is never
// handed back to the pool.

// DefaultIdleSpokeMemory is what a pooled spoke waiting for its launch
// frame is counted as against Config.PoolMemory when Config says nothing
// (Config.IdleSpokeMemory). TestIdlePooledSpokeMemory holds an idle pooled
// spoke of the sandbox's test binary below it, even shared with only three
// others (measured 2.9 MiB of PSS, 1.3 MiB of it private); the binaries
// users run differ and their callers say so (core/spoke LocalIdleMemory,
// LeanIdleMemory, SelfIdleMemory).
const DefaultIdleSpokeMemory = 4 << 20

// maxFilling bounds the pooled spokes being started at once: enough to
// keep the CPUs busy while the fork server clones, few enough that a
// burst of expectations does not queue hundreds of starts ahead of a
// spoke that is needed now.
const maxFilling = 8

// poolMax is how many pooled spokes may be kept idle at most: Config.Pool,
// or more when Config.PoolMemory allows.
func poolMax(cfg Config) int {
	per := cfg.IdleSpokeMemory
	if per <= 0 {
		per = DefaultIdleSpokeMemory
	}
	return max(cfg.Pool, int(cfg.PoolMemory/per))
}

// pooling reports whether this Spawner keeps a pool at all.
func (s *Spawner) pooling() bool { return s.poolMax > 0 }

// target is how many pooled spokes to keep: Config.Pool, raised to one per
// expected start up to poolMax.
//
// Preconditions: s.mu is held.
func (s *Spawner) target() int {
	return max(s.cfg.Pool, min(s.expected, s.poolMax))
}

// Prepare tells the Spawner that a Start is likely soon (a conversation
// has begun planning), so that a pooled spoke can be started in the
// meantime, within Config.PoolMemory. It does not block. release says
// that the expectation has passed: the Start came, or none will. Pooled
// spokes kept beyond Config.Pool that no expectation covers any more are
// ended. release may be called more than once, from any goroutine.
func (s *Spawner) Prepare() (release func()) {
	if s.poolMax <= s.cfg.Pool {
		return func() {}
	}
	s.mu.Lock()
	s.expected++
	s.mu.Unlock()
	s.refill()
	var once sync.Once
	return func() { once.Do(s.unexpect) }
}

// unexpect drops one expected start and ends the pooled spokes no longer
// wanted.
func (s *Spawner) unexpect() {
	s.mu.Lock()
	s.expected--
	var surplus []*Proc
	if n := s.target(); len(s.idle) > n {
		surplus = append(surplus, s.idle[n:]...)
		s.idle = s.idle[:n]
		// Added under the lock, as refill does, so that Close (which
		// sets closed under it) waits for these.
		s.fills.Add(len(surplus))
	}
	s.mu.Unlock()
	for _, p := range surplus {
		detached(func() { s.trim(p) })
	}
}

// trim ends a pooled spoke that was never claimed.
func (s *Spawner) trim(p *Proc) {
	defer s.fills.Done()
	p.Kill("pooled spoke no longer expected")
	_ = p.Wait()
}

// refill starts pooled spokes in the background until the pool holds its
// target, at most maxFilling at once.
func (s *Spawner) refill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.idle)+s.filling < s.target() && s.filling < maxFilling {
		s.filling++
		s.fills.Add(1)
		detached(s.fill)
	}
}

// fill starts one pooled spoke and keeps it if the pool still wants it.
func (s *Spawner) fill() {
	defer s.fills.Done()
	// Most policies share the network namespace; the others (egress,
	// exec) are started on demand with their own.
	p, err := s.prestart(s.poolExe(), true)
	s.mu.Lock()
	s.filling--
	keep := err == nil && !s.closed && len(s.idle) < s.target()
	if keep {
		s.idle = append(s.idle, p)
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		// No retry here: the next Start, or the next spoke's end, refills.
		s.log.Warn("sandbox: pre-start a pooled spoke", "err", err)
	case !keep:
		p.Kill("pooled spoke not wanted")
		_ = p.Wait()
	default:
		s.refill()
	}
}

// take returns a pooled spoke, or nil.
func (s *Spawner) take() *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.idle) == 0 {
		return nil
	}
	p := s.idle[0]
	s.idle = s.idle[1:]
	return p
}

// detached runs f in a goroutine that carries no profiler labels: the pool
// works on the spawner's behalf, not on that of the turn whose Prepare,
// Start or release set it off (the invariant harness finds what an episode
// left running by its labels).
func detached(f func()) {
	go func() {
		pprof.SetGoroutineLabels(context.Background())
		f()
	}()
}
