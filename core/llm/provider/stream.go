package provider

import (
	"context"
	"sync"

	"github.com/tmc/langchaingo/llms"
)

// textStream hands an answer's text to onText through langchaingo's
// streaming function. Every client used here calls that function only
// after a 2xx status, so the retries below it (retryDoer) never show text
// of a failed attempt. Empty pieces (a usage-only event, the end of a
// block) are dropped.
//
// The error onText returns is kept: langchaingo's Gemini client stops the
// stream on it but then reports success with the text so far.
type textStream struct {
	onText func(context.Context, string) error

	mu  sync.Mutex // guards err
	err error
}

// options returns the call option that streams, or none when there is no
// onText.
func (s *textStream) options() []llms.CallOption {
	if s == nil || s.onText == nil {
		return nil
	}
	return []llms.CallOption{llms.WithStreamingFunc(func(ctx context.Context, chunk []byte) error {
		if len(chunk) == 0 {
			return nil
		}
		if err := s.onText(ctx, string(chunk)); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
			return err
		}
		return nil
	})}
}

// failed returns the first error onText returned.
func (s *textStream) failed() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func newTextStream(onText func(context.Context, string) error) *textStream {
	if onText == nil {
		return nil
	}
	return &textStream{onText: onText}
}
