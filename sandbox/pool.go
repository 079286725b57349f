package sandbox

// The pool: spokes started ahead of need (Config.Pool), sandboxed up to
// the point where they wait for their launch frame.

// refill starts pooled spokes in the background until the pool is full.
func (s *Spawner) refill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.idle)+s.filling < s.cfg.Pool {
		s.filling++
		s.fills.Add(1)
		go func() {
			defer s.fills.Done()
			// Most policies share the network namespace; the others
			// (egress, exec) are started on demand with their own.
			p, err := s.prestart(true)
			s.mu.Lock()
			s.filling--
			closed := s.closed
			if err == nil && !closed {
				s.idle = append(s.idle, p)
			}
			s.mu.Unlock()
			switch {
			case err != nil:
				s.log.Warn("sandbox: pre-start a pooled spoke", "err", err)
			case closed:
				p.Kill("spawner closed")
				_ = p.Wait()
			}
		}()
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
