package provider

import (
	"context"
	"errors"
	"sync"

	"github.com/secgpt-go/secgpt/core/llm"
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
//
// onText is called with the lock held, so calls never overlap, and never
// after close: the Anthropic client calls the streaming function from a
// goroutine of its own, and the caller of GenerateStream may rely on no
// piece arriving once it has returned.
type textStream struct {
	onText func(context.Context, string) error

	mu     sync.Mutex // guards the fields below, and every call of onText
	err    error
	closed bool
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
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return errStreamClosed
		}
		if s.err != nil {
			return s.err
		}
		if err := s.onText(ctx, string(chunk)); err != nil {
			s.err = err
			return err
		}
		return nil
	})}
}

// failed ends the stream (no piece is handed over after it) and returns
// the first error onText returned.
func (s *textStream) failed() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.err
}

// errStreamClosed stops a client that streams on after its call returned.
var errStreamClosed = errors.New("stream already ended")

func newTextStream(onText func(context.Context, string) error) *textStream {
	if onText == nil {
		return nil
	}
	return &textStream{onText: onText}
}

// streamUnlessTools is every langchaingo provider's GenerateStream: a
// request with tools is sent unstreamed and its text handed over as one
// piece (langchaingo passes tool-call deltas to the same callback as text,
// and those must never reach a reply); any other request streams.
func streamUnlessTools(ctx context.Context, req *llm.Request, onText func(context.Context, string) error,
	call func(context.Context, *llm.Request, func(context.Context, string) error) (*llm.Response, error)) (*llm.Response, error) {
	if len(req.Tools) > 0 {
		generate := func(ctx context.Context, req *llm.Request) (*llm.Response, error) { return call(ctx, req, nil) }
		return llm.GenerateStream(ctx, llm.ModelFunc(generate), req, onText)
	}
	return call(ctx, req, onText)
}
