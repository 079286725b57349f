package mail

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	netmail "net/mail"

	"github.com/secgpt-go/secgpt/apps/internal/gapi"
	"github.com/secgpt-go/secgpt/apps/internal/kit"
)

// gmail is the Gmail REST backend (https://developers.google.com/gmail/api/reference/rest).
type gmail struct {
	api       gapi.API
	permanent bool
}

// gmMessage is users.messages.get's answer (format=full), trimmed to what
// is shown.
type gmMessage struct {
	ID           string   `json:"id"`
	ThreadID     string   `json:"threadId"`
	LabelIDs     []string `json:"labelIds"`
	Snippet      string   `json:"snippet"`
	InternalDate string   `json:"internalDate"`
	Payload      gmPart   `json:"payload"`
}

type gmPart struct {
	MimeType string `json:"mimeType"`
	Headers  []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
	Body struct {
		Data string `json:"data"`
	} `json:"body"`
	Parts []gmPart `json:"parts"`
}

func (p gmPart) header(name string) string {
	for _, h := range p.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// maxPartDepth bounds the walk of a message's MIME tree.
const maxPartDepth = 16

// findPart returns the decoded body of the first part of type mt.
func (p gmPart) findPart(mt string, depth int) (string, bool) {
	if depth > maxPartDepth {
		return "", false
	}
	if strings.HasPrefix(strings.ToLower(p.MimeType), mt) && p.Body.Data != "" {
		if b, err := decodeB64URL(p.Body.Data); err == nil {
			return string(b), true
		}
	}
	for _, c := range p.Parts {
		if s, ok := c.findPart(mt, depth+1); ok {
			return s, true
		}
	}
	return "", false
}

// decodeB64URL decodes Gmail's base64url data, padded or not.
func decodeB64URL(s string) ([]byte, error) {
	s = strings.TrimRight(strings.NewReplacer("+", "-", "/", "_", "\n", "", "\r", "").Replace(s), "=")
	return base64.RawURLEncoding.DecodeString(s)
}

// stripTags turns HTML into rough text: enough for a model to summarise.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

func splitAddrs(h string) []string {
	if h == "" {
		return nil
	}
	var out []string
	for _, a := range strings.Split(h, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// toMessage converts Gmail's message to the displayed form.
func (g gmMessage) toMessage() Message {
	p := g.Payload
	m := Message{
		ID: g.ID, ThreadID: g.ThreadID, Labels: g.LabelIDs,
		From: p.header("From"), To: splitAddrs(p.header("To")), Cc: splitAddrs(p.header("Cc")),
		Subject: p.header("Subject"),
	}
	if ms, err := strconv.ParseInt(g.InternalDate, 10, 64); err == nil && ms > 0 {
		m.Date = time.UnixMilli(ms).UTC()
	} else if d, err := netmail.ParseDate(p.header("Date")); err == nil {
		m.Date = d.UTC()
	}
	if body, ok := p.findPart("text/plain", 0); ok {
		m.Body = body
	} else if body, ok := p.findPart("text/html", 0); ok {
		m.Body = stripTags(body)
	} else {
		m.Body = html.UnescapeString(g.Snippet)
	}
	return m
}

// validID reports whether id looks like a Gmail ID (hex in practice):
// anything else is not sent in a URL path at all.
func validID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (g *gmail) message(ctx context.Context, id string) (Message, error) {
	if !validID(id) {
		return Message{}, errNotFound
	}
	var gm gmMessage
	err := g.api.Do(ctx, http.MethodGet, "/users/me/messages/"+url.PathEscape(id), url.Values{"format": {"full"}}, nil, &gm)
	if err != nil {
		return Message{}, notFound(err)
	}
	return gm.toMessage(), nil
}

func notFound(err error) error {
	var ae *gapi.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", errNotFound, err)
	}
	return err
}

func (g *gmail) search(ctx context.Context, q string, threads bool, max int) (string, error) {
	params := url.Values{"q": {q}, "maxResults": {strconv.Itoa(max)}}
	if threads {
		var list struct {
			Threads []struct {
				ID string `json:"id"`
			} `json:"threads"`
		}
		if err := g.api.Do(ctx, http.MethodGet, "/users/me/threads", params, nil, &list); err != nil {
			return "", fmt.Errorf("list threads: %w", err)
		}
		var ts []thread
		for _, t := range list.Threads[:min(len(list.Threads), max)] {
			if !validID(t.ID) {
				continue
			}
			var gt struct {
				ID       string      `json:"id"`
				Messages []gmMessage `json:"messages"`
			}
			if err := g.api.Do(ctx, http.MethodGet, "/users/me/threads/"+url.PathEscape(t.ID), url.Values{"format": {"full"}}, nil, &gt); err != nil {
				return "", fmt.Errorf("get thread: %w", err)
			}
			th := thread{ID: t.ID}
			for _, gm := range gt.Messages {
				th.Messages = append(th.Messages, gm.toMessage())
			}
			sortNewest(th.Messages)
			ts = append(ts, th)
		}
		return renderThreads(q, ts), nil
	}
	var list struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := g.api.Do(ctx, http.MethodGet, "/users/me/messages", params, nil, &list); err != nil {
		return "", fmt.Errorf("list messages: %w", err)
	}
	var ms []Message
	for _, ref := range list.Messages[:min(len(list.Messages), max)] {
		m, err := g.message(ctx, ref.ID)
		if errors.Is(err, errNotFound) {
			continue // deleted between list and get
		}
		if err != nil {
			return "", fmt.Errorf("get message: %w", err)
		}
		ms = append(ms, m)
	}
	sortNewest(ms)
	return renderMessages(q, ms), nil
}

func (g *gmail) get(ctx context.Context, id string) (string, error) {
	m, err := g.message(ctx, id)
	if errors.Is(err, errNotFound) {
		return fmt.Sprintf("No message with ID %q was found.", kit.Truncate(id, 64)), nil
	}
	if err != nil {
		return "", fmt.Errorf("get message: %w", err)
	}
	return renderMessage(m, maxContent), nil
}

// oneLine removes line breaks so a value cannot start a new header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// rfc2822 renders m as the raw message users.messages.send takes. Gmail
// sets From to the authorised account and delivers to Bcc without showing it.
func rfc2822(m outgoing) []byte {
	var b strings.Builder
	b.WriteString("To: " + strings.Join(m.To, ", ") + "\r\n")
	if len(m.Cc) > 0 {
		b.WriteString("Cc: " + strings.Join(m.Cc, ", ") + "\r\n")
	}
	if len(m.Bcc) > 0 {
		b.WriteString("Bcc: " + strings.Join(m.Bcc, ", ") + "\r\n")
	}
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", oneLine(m.Subject)) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=\"UTF-8\"\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(m.Body))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return []byte(b.String())
}

func (g *gmail) send(ctx context.Context, m outgoing) (string, error) {
	var sent struct {
		ID string `json:"id"`
	}
	body := map[string]string{"raw": base64.URLEncoding.EncodeToString(rfc2822(m))}
	if err := g.api.Do(ctx, http.MethodPost, "/users/me/messages/send", nil, body, &sent); err != nil {
		return "", fmt.Errorf("send message: %w", err)
	}
	return fmt.Sprintf("Message sent to %s. Message ID: %s.", strings.Join(m.To, ", "), sent.ID), nil
}

func (g *gmail) remove(ctx context.Context, id string) (string, error) {
	if !validID(id) {
		return fmt.Sprintf("No message with ID %q was found; nothing was deleted.", kit.Truncate(id, 64)), nil
	}
	path := "/users/me/messages/" + url.PathEscape(id)
	method, verb := http.MethodPost, "moved to the trash"
	if g.permanent {
		method, verb = http.MethodDelete, "deleted permanently"
	} else {
		path += "/trash"
	}
	err := g.api.Do(ctx, method, path, nil, nil, nil)
	if errors.Is(notFound(err), errNotFound) {
		return fmt.Sprintf("No message with ID %q was found; nothing was deleted.", kit.Truncate(id, 64)), nil
	}
	if err != nil {
		return "", fmt.Errorf("delete message: %w", err)
	}
	return fmt.Sprintf("Message %s was %s.", id, verb), nil
}

var _ backend = (*gmail)(nil)
var _ backend = (*local)(nil)
