package mail

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"strings"
	"time"

	netmail "net/mail"

	gm "google.golang.org/api/gmail/v1"

	"github.com/secgpt-go/secgpt/apps/internal/gapi"
	"github.com/secgpt-go/secgpt/apps/internal/kit"
)

// gmail is the Gmail backend, through Google's Go client for the Gmail v1
// API (https://developers.google.com/gmail/api/reference/rest).
type gmail struct {
	svc       *gm.Service
	permanent bool
}

func partHeader(p *gm.MessagePart, name string) string {
	if p == nil {
		return ""
	}
	for _, h := range p.Headers {
		if h != nil && strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// maxPartDepth bounds the walk of a message's MIME tree.
const maxPartDepth = 16

// findPart returns the decoded body of the first part of type mt.
func findPart(p *gm.MessagePart, mt string, depth int) (string, bool) {
	if p == nil || depth > maxPartDepth {
		return "", false
	}
	if strings.HasPrefix(strings.ToLower(p.MimeType), mt) && p.Body != nil && p.Body.Data != "" {
		if b, err := decodeB64URL(p.Body.Data); err == nil {
			return string(b), true
		}
	}
	for _, c := range p.Parts {
		if s, ok := findPart(c, mt, depth+1); ok {
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
func toMessage(g *gm.Message) Message {
	p := g.Payload
	m := Message{
		ID: g.Id, ThreadID: g.ThreadId, Labels: g.LabelIds,
		From: partHeader(p, "From"), To: splitAddrs(partHeader(p, "To")), Cc: splitAddrs(partHeader(p, "Cc")),
		Subject: partHeader(p, "Subject"),
	}
	if g.InternalDate > 0 {
		m.Date = time.UnixMilli(g.InternalDate).UTC()
	} else if d, err := netmail.ParseDate(partHeader(p, "Date")); err == nil {
		m.Date = d.UTC()
	}
	if body, ok := findPart(p, "text/plain", 0); ok {
		m.Body = body
	} else if body, ok := findPart(p, "text/html", 0); ok {
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
	gmsg, err := g.svc.Users.Messages.Get("me", id).Format("full").Context(ctx).Do()
	if err != nil {
		return Message{}, notFound(err)
	}
	return toMessage(gmsg), nil
}

func notFound(err error) error {
	if gapi.Status(err) == http.StatusNotFound {
		return fmt.Errorf("%w: %w", errNotFound, err)
	}
	return err
}

func (g *gmail) search(ctx context.Context, q string, threads bool, max int) (string, error) {
	if threads {
		list, err := g.svc.Users.Threads.List("me").Q(q).MaxResults(int64(max)).Context(ctx).Do()
		if err != nil {
			return "", fmt.Errorf("list threads: %w", err)
		}
		var ts []thread
		for _, t := range list.Threads[:min(len(list.Threads), max)] {
			if t == nil || !validID(t.Id) {
				continue
			}
			gt, err := g.svc.Users.Threads.Get("me", t.Id).Format("full").Context(ctx).Do()
			if err != nil {
				return "", fmt.Errorf("get thread: %w", err)
			}
			th := thread{ID: t.Id}
			for _, gmsg := range gt.Messages {
				if gmsg != nil {
					th.Messages = append(th.Messages, toMessage(gmsg))
				}
			}
			sortNewest(th.Messages)
			ts = append(ts, th)
		}
		return renderThreads(q, ts), nil
	}
	list, err := g.svc.Users.Messages.List("me").Q(q).MaxResults(int64(max)).Context(ctx).Do()
	if err != nil {
		return "", fmt.Errorf("list messages: %w", err)
	}
	var ms []Message
	for _, ref := range list.Messages[:min(len(list.Messages), max)] {
		if ref == nil {
			continue
		}
		m, err := g.message(ctx, ref.Id)
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
	sent, err := g.svc.Users.Messages.Send("me", &gm.Message{Raw: base64.URLEncoding.EncodeToString(rfc2822(m))}).Context(ctx).Do()
	if err != nil {
		return "", fmt.Errorf("send message: %w", err)
	}
	return fmt.Sprintf("Message sent to %s. Message ID: %s.", strings.Join(m.To, ", "), sent.Id), nil
}

func (g *gmail) remove(ctx context.Context, id string) (string, error) {
	if !validID(id) {
		return fmt.Sprintf("No message with ID %q was found; nothing was deleted.", kit.Truncate(id, 64)), nil
	}
	verb := "moved to the trash"
	var err error
	if g.permanent {
		verb = "deleted permanently"
		err = g.svc.Users.Messages.Delete("me", id).Context(ctx).Do()
	} else {
		_, err = g.svc.Users.Messages.Trash("me", id).Context(ctx).Do()
	}
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
