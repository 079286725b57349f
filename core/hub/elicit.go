package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Bounds on an app's questions to its user (MCP elicitation).
const (
	maxElicitPerRun   = 4
	maxElicitMessage  = 500
	maxElicitSchema   = 16 << 10
	maxElicitFields   = 16
	maxElicitOptions  = 8
	maxElicitOptLen   = 60
	maxElicitFieldDoc = 200
)

var fieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// elicitField is one field of a question's schema, as the hub can ask it.
type elicitField struct {
	name     string
	doc      string
	boolean  bool
	options  []string // an enum's values; empty for a free-text field
	titles   []string // the options' titles (a oneOf's), when given
	typ      string   // the schema's type
	required bool
	// def is the field's default as the server's schema states it (one
	// neutral line), "" when it states none: what the server is expected
	// to use when the user skips the field.
	def string
}

// buttons reports whether the user can answer the field with buttons.
func (f elicitField) buttons() bool { return f.boolean || len(f.options) > 0 }

// typable reports whether a typed answer can fill the field.
func (f elicitField) typable() bool {
	return !f.buttons() && (f.typ == "string" || f.typ == "integer" || f.typ == "number")
}

// askable reports whether the user can answer the field here: with
// buttons, or by typing where the conversation takes typed answers.
func (f elicitField) askable(typed bool) bool { return f.buttons() || (typed && f.typable()) }

// elicitSchema reads the flat object schema of an elicitation request.
// Anything the hub cannot show safely (odd names, too many fields or
// options, option values with characters a prompt would have to escape)
// is an error, said to the server.
func elicitSchema(raw json.RawMessage) ([]elicitField, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > maxElicitSchema {
		return nil, fmt.Errorf("schema larger than %d bytes", maxElicitSchema)
	}
	var s struct {
		Type       string `json:"type"`
		Properties map[string]struct {
			Type        string            `json:"type"`
			Title       string            `json:"title"`
			Description string            `json:"description"`
			Default     json.RawMessage   `json:"default"`
			Enum        []json.RawMessage `json:"enum"`
			OneOf       []struct {
				Const json.RawMessage `json:"const"`
				Title string          `json:"title"`
			} `json:"oneOf"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if s.Type != "" && s.Type != "object" {
		return nil, fmt.Errorf("schema of type %q, want object", s.Type)
	}
	if len(s.Properties) > maxElicitFields {
		return nil, fmt.Errorf("more than %d fields", maxElicitFields)
	}
	var out []elicitField
	for name, p := range s.Properties {
		if !fieldNameRE.MatchString(name) {
			return nil, fmt.Errorf("field name %q (use letters, digits, _ and -)", truncate(name, 40))
		}
		doc := p.Description
		if doc == "" {
			doc = p.Title
		}
		f := elicitField{name: name, doc: oneLine(doc, maxElicitFieldDoc), boolean: p.Type == "boolean", typ: p.Type, required: slices.Contains(s.Required, name),
			def: defaultText(p.Default)}
		// A titled choice (oneOf of consts) is a choice of its consts, its
		// titles shown beside them.
		values, titles := p.Enum, []string(nil)
		if len(values) == 0 {
			for _, o := range p.OneOf {
				values = append(values, o.Const)
				titles = append(titles, oneLine(o.Title, maxElicitOptLen))
			}
		}
		if len(values) > 0 && p.Type == "string" {
			if len(values) > maxElicitOptions {
				return nil, fmt.Errorf("field %s has more than %d options", name, maxElicitOptions)
			}
			for i, e := range values {
				var v string
				if json.Unmarshal(e, &v) != nil || v == "" || len(v) > maxElicitOptLen || chat.Neutralize(v) != v || strings.ContainsAny(v, "\n\t") {
					return nil, fmt.Errorf("field %s has an option that cannot be shown as a button", name)
				}
				if !slices.Contains(f.options, v) {
					f.options = append(f.options, v)
					if titles != nil {
						f.titles = append(f.titles, titles[i])
					}
				}
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// oneLine makes app text one neutral line: a server's message cannot start
// a line of the prompt of its own, so it cannot paint one.
func oneLine(s string, n int) string {
	// Neutralised last: truncate may split a character, which Neutralize
	// then escapes.
	return chat.Neutralize(truncate(strings.Join(strings.Fields(s), " "), n))
}

// onElicit serves an app's question for its user (elicit).
func (h *Hub) onElicit(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	k, body, err := h.elicit(ctx, r.inv, f)
	return reply(k, body), err
}

// elicit serves an app's question for its user: the hub asks through the
// normal prompt path, the app's message shown as that app's text, and the
// answer holds nothing but what the user chose. Fields that would need
// typed input are not asked: a required one makes the hub answer the
// server with a note, an optional one is left out.
func (h *Hub) elicit(ctx context.Context, inv *invocation, f isc.Frame) (isc.Kind, any, error) {
	var e isc.Elicit
	if err := f.Decode(&e); err != nil {
		return "", nil, spokeErr("protocol: elicit", err)
	}
	t := inv.turn
	sp := inv.app.Spec()
	inv.elicits++
	if inv.elicits > maxElicitPerRun {
		return isc.KindHubError, isc.ErrorBody{Message: fmt.Sprintf("at most %d questions per invocation", maxElicitPerRun)}, nil
	}
	fields, err := elicitSchema(e.Schema)
	if err != nil {
		return isc.KindElicitResult, isc.ElicitResult{Note: "SecGPT did not ask its user: " + err.Error()}, nil
	}
	typed := chat.TakesTypedAnswers(t.c)
	var unaskable []string
	for _, fd := range fields {
		if !fd.askable(typed) && fd.required {
			unaskable = append(unaskable, fd.name)
		}
	}
	if len(unaskable) > 0 {
		why := "this chat takes no typed answers (buttons only)"
		if typed {
			why = "it asks only for text, numbers, yes/no and a choice of values"
		}
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditElicitRefused, App: sp.ID, Detail: "fields: " + strings.Join(unaskable, ", ")})
		return isc.KindElicitResult, isc.ElicitResult{Note: "SecGPT did not ask its user: " + why + ", and the request needs " +
			strings.Join(unaskable, ", ") + "; ask with yes/no or a choice of values instead"}, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Message from app %s (its own text, not from SecGPT): «%s»", sp.ID, oneLine(e.Message, maxElicitMessage))
	var asks []string
	for _, fd := range fields {
		switch {
		case fd.boolean:
			asks = append(asks, fd.name+" (yes or no)")
		case len(fd.options) > 0:
			asks = append(asks, fd.name+" (one of "+strings.Join(fd.options, ", ")+")")
		case fd.askable(typed) && !fd.required && fd.def != "":
			asks = append(asks, fd.name+" (typed "+typedWhat(fd.typ)+"; skipped, the app uses its default «"+fd.def+"»)")
		case fd.askable(typed):
			asks = append(asks, fd.name+" (typed "+typedWhat(fd.typ)+")")
		default:
			asks = append(asks, fd.name+" (left empty: it cannot be answered in this chat)")
		}
	}
	if len(asks) > 0 {
		b.WriteString("\nIt asks for: " + strings.Join(asks, "; ") + ".\nAccept to choose the values; nothing is sent unless you accept.")
	} else {
		b.WriteString("\nAccept, decline or cancel: only your choice is sent back to the app.")
	}
	p := chat.Prompt{User: t.user, Conversation: t.conv, Session: t.session, Kind: chat.KindElicit, Target: sp.ID,
		Data: b.String(), Options: []chat.Decision{chat.Accept, chat.Decline, chat.Cancel}}
	d, err := h.gate.Ask(ctx, t.c, p)
	if err != nil {
		h.log.Warn("elicitation prompt", "app", sp.ID, "err", err)
	}
	if d != chat.Accept {
		return isc.KindElicitResult, isc.ElicitResult{Action: elicitAction(d)}, nil
	}
	content := map[string]any{}
	for _, fd := range fields {
		if !fd.askable(typed) {
			continue
		}
		if !fd.buttons() {
			v, d := h.askTyped(ctx, inv, fd)
			switch {
			case d == chat.Skip:
				continue
			case d != "":
				return isc.KindElicitResult, isc.ElicitResult{Action: elicitAction(d)}, nil
			}
			content[fd.name] = v
			continue
		}
		q := chat.Prompt{User: t.user, Conversation: t.conv, Session: t.session, Kind: chat.KindElicit, Target: sp.ID,
			Data: fmt.Sprintf("App %s asks for %s", sp.ID, fd.name)}
		if fd.doc != "" {
			q.Data += fmt.Sprintf(" (its description: «%s»)", fd.doc)
		}
		if len(fd.titles) > 0 {
			var vs []string
			for i, o := range fd.options {
				vs = append(vs, fmt.Sprintf("%s = «%s»", o, fd.titles[i]))
			}
			q.Data += ". Values, with the app's titles: " + strings.Join(vs, ", ")
		}
		if fd.boolean {
			q.Options = []chat.Decision{chat.Option("yes"), chat.Option("no")}
		} else {
			for _, o := range fd.options {
				q.Options = append(q.Options, chat.Option(o))
			}
		}
		q.Options = append(q.Options, chat.Cancel)
		a, err := h.gate.Ask(ctx, t.c, q)
		if err != nil {
			h.log.Warn("elicitation prompt", "app", sp.ID, "err", err)
		}
		v, ok := a.OptionValue()
		if !ok {
			return isc.KindElicitResult, isc.ElicitResult{Action: elicitAction(a)}, nil
		}
		if fd.boolean {
			content[fd.name] = v == "yes"
		} else {
			content[fd.name] = v
		}
	}
	h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditElicitAnswered, App: sp.ID, Detail: truncate(fmt.Sprint(content), 2000)})
	return isc.KindElicitResult, isc.ElicitResult{Action: "accept", Content: content}, nil
}

// elicitAction is the MCP action for a non-accepting answer.
func elicitAction(d chat.Decision) string {
	if d == chat.Decline {
		return "decline"
	}
	return "cancel"
}

// typedWhat says what a typed field takes.
func typedWhat(typ string) string {
	switch typ {
	case "integer":
		return "whole number"
	case "number":
		return "number"
	}
	return "text"
}

// askTyped asks the user to type fd's value. It returns the value, or the
// decision that ended the question instead (Skip for an optional field
// left empty, Cancel, or Cancel after two answers that are not numbers for
// a number field).
func (h *Hub) askTyped(ctx context.Context, inv *invocation, fd elicitField) (any, chat.Decision) {
	t := inv.turn
	sp := inv.app.Spec()
	q := typedQuestion(sp.ID, fd)
	q.User, q.Conversation, q.Session = t.user, t.conv, t.session
	for range 2 {
		d, err := h.gate.Ask(ctx, t.c, q)
		if err != nil {
			h.log.Warn("elicitation prompt", "app", sp.ID, "err", err)
		}
		s, ok := d.OptionValue()
		if !ok {
			return nil, d
		}
		switch fd.typ {
		case "integer":
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, ""
			}
		case "number":
			if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				return n, ""
			}
		default:
			return s, ""
		}
		q.Data = strings.TrimSuffix(q.Data, " That was not a "+typedWhat(fd.typ)+".") + " That was not a " + typedWhat(fd.typ) + "."
	}
	return nil, chat.Cancel
}

// typedQuestion is the prompt that asks for a typed field. An optional
// field offers Skip, and says what skipping sends: nothing, so the server
// uses the default its schema states (shown as the app's text).
func typedQuestion(app ids.AppID, fd elicitField) chat.Prompt {
	q := chat.Prompt{Kind: chat.KindElicit, Target: app, FreeText: true,
		Data: fmt.Sprintf("App %s asks for %s", app, fd.name)}
	if fd.doc != "" {
		q.Data += fmt.Sprintf(" (its description: «%s»)", fd.doc)
	}
	q.Data += fmt.Sprintf(".\nType your answer (%s); it goes to app %s as you type it.", typedWhat(fd.typ), app)
	if !fd.required {
		q.Data += "\n" + skipNote(fd)
		q.Options = append(q.Options, chat.Skip)
	}
	q.Options = append(q.Options, chat.Cancel)
	return q
}

// skipNote says what Skip sends for an optional field.
func skipNote(fd elicitField) string {
	if fd.def == "" {
		return "Skip sends no value for it (the app states no default)."
	}
	return fmt.Sprintf("Skip sends no value for it: the app says it will use its default, «%s».", fd.def)
}

// defaultText is a schema's default value as one neutral line, or "".
func defaultText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return oneLine(s, maxElicitOptLen)
	}
	return oneLine(string(raw), maxElicitOptLen)
}
