package isc

import (
	"os"
	"sort"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkRoundTrip measures one spoke request and hub answer (a model
// call's frames, small bodies) over a real socketpair, as the spoke sees it.
func BenchmarkRoundTrip(b *testing.B) {
	fds, err := socketPair()
	if err != nil {
		b.Fatal(err)
	}
	hubF, spokeF := os.NewFile(uintptr(fds[0]), "hub"), os.NewFile(uintptr(fds[1]), "spoke")
	hub, spoke := NewConn(hubF, HubSide, 0), NewConn(spokeF, SpokeSide, 0)
	defer hub.Close()
	defer spoke.Close()
	go func() {
		for {
			f, err := hub.Recv()
			if err != nil {
				return
			}
			var r MemoryRead
			_ = f.Decode(&r)
			if err := hub.Send(KindMemory, Memory{Entries: []MemoryEntry{{Role: "user", Content: "hello"}}}); err != nil {
				return
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f, err := spoke.Call(KindMemoryRead, MemoryRead{Limit: 5})
		if err != nil {
			b.Fatal(err)
		}
		var m Memory
		if err := f.Decode(&m); err != nil || len(m.Entries) != 1 {
			b.Fatalf("bad answer %v %v", m, err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// socketPair is a connected pair of unix stream sockets, close-on-exec:
// set under the fork lock, as the standard library does where
// socketpair(2) takes no flags (SOCK_CLOEXEC is Linux's), so the test
// builds on every system.
func socketPair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}
