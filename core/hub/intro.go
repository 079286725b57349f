package hub

import (
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm/offline"
)

// greetings are the messages answered with the introduction instead of a
// plan: a greeting or a question about the assistant itself names no app,
// so planning it can only fail or, worse, run something.
var greetings = map[string]bool{
	"hi": true, "hello": true, "hey": true, "hallo": true, "good morning": true, "good afternoon": true, "good evening": true,
	"help": true, "what can you do": true, "what can i do": true, "what do you do": true, "who are you": true,
	"what are you": true, "how does this work": true, "how do i use this": true, "how do i use you": true,
	"what can i ask": true, "what can i ask you": true, "examples": true, "start": true, "intro": true,
}

// example is a request the introduction offers, shown only when the apps it
// needs are installed. Every example must work on the offline demo model:
// TestIntroductionExamplesWork runs each one through a real hub.
type example struct {
	text string
	apps []ids.AppID
}

var examples = []example{
	{"Use quick_ride and metro_hail for a trip from Main Street to Elm Avenue", []ids.AppID{"quick_ride", "metro_hail"}},
	{"quick_ride fare from Main Street to Elm Avenue", []ids.AppID{"quick_ride"}},
}

// Examples returns the example requests the introduction offers for the
// installed apps.
func (h *Hub) Examples() []string {
	var out []string
	for _, e := range examples {
		ok := true
		for _, a := range e.apps {
			if _, installed := h.o.Catalog.App(a); !installed {
				ok = false
			}
		}
		if ok {
			out = append(out, e.text)
		}
	}
	return out
}

// introduction answers a greeting or "what can you do" with what the
// assistant is, how permissions work, and requests that work here.
func (h *Hub) introduction(text string) (string, bool) {
	q := strings.ToLower(strings.Trim(strings.TrimSpace(text), " .!?¿¡,"))
	q = strings.Join(strings.Fields(q), " ")
	q = strings.TrimSuffix(strings.TrimPrefix(q, "secgpt "), " secgpt")
	if !greetings[q] {
		return "", false
	}
	var b strings.Builder
	b.WriteString("Hi! I'm **SecGPT**, an assistant that uses apps for you, each one isolated from the others. ")
	b.WriteString("Before an app runs, or data moves between apps, I ask you: *Allow once*, *Allow for this session*, *Always allow* or *Deny*.\n\n")
	if ex := h.Examples(); len(ex) > 0 {
		b.WriteString("Try:\n")
		for _, e := range ex {
			fmt.Fprintf(&b, "- %s\n", e)
		}
		b.WriteString("\n")
	}
	if _, demo := h.o.Model.(offline.Model); demo {
		b.WriteString("This is the **offline demo model**: it picks apps by their name or a keyword and shows what they return. ")
		b.WriteString("It cannot chat, and it cannot look things up by name (\"the weather in Paris\" needs a city's ID first); ")
		b.WriteString("for that, start me with a real model (see README: `SECGPT_MODEL_PROVIDER`).\n\n")
	}
	b.WriteString("`!apps` lists the installed apps, `!grants` your stored permissions, `!help` all commands.")
	return b.String(), true
}
