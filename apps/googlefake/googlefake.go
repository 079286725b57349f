// Package googlefake is a local server that speaks what SecGPT uses of
// Google: the OAuth 2.0 endpoints (consent with PKCE, token exchange and
// refresh, revocation) and the parts of the Gmail v1 and Drive v3 REST APIs
// the mail and drive apps call, per account, with Google's JSON shapes and
// error envelope. Google's cloud is not reachable from the test machines;
// the real client libraries (golang.org/x/oauth2, google.golang.org/api)
// are pointed at this server instead.
//
// The consent page does not render anything: the simulated browser names
// the signed-in account in the AccountHeader header, and consent is given
// at once (a redirect back to the client with a code).
//
// Scopes are Google's: a grant carries the scopes consented to (with
// include_granted_scopes=true, also those the account gave the client
// before), a refresh may ask for a subset of them (RFC 6749 section 6), and
// every API call needs a token carrying one of the scopes Google accepts for
// that method, else 403 "insufficient authentication scopes".
//
// Only tests and evaluation/invariants (episodes link fake Google accounts)
// import this package.
package googlefake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AccountHeader names the account the simulated browser is signed in as.
const AccountHeader = "X-Googlefake-Account"

// Paths of the OAuth endpoints (the API paths are Google's).
const (
	AuthPath     = "/o/oauth2/auth"
	TokenPath    = "/token"
	RevokePath   = "/revoke"
	UserinfoPath = "/v1/userinfo"
)

// Scopes the fake knows, by their Google names.
const (
	ScopeGmailReadonly = "https://www.googleapis.com/auth/gmail.readonly"
	ScopeGmailSend     = "https://www.googleapis.com/auth/gmail.send"
	ScopeGmailModify   = "https://www.googleapis.com/auth/gmail.modify"
	ScopeMailFull      = "https://mail.google.com/"
	ScopeDriveReadonly = "https://www.googleapis.com/auth/drive.readonly"
	ScopeDrive         = "https://www.googleapis.com/auth/drive"
)

// allScopes is what IssueToken's tokens carry.
var allScopes = []string{ScopeGmailModify, ScopeDriveReadonly, "openid", "email"}

// Scopes Google accepts for each kind of call (any one of them).
var (
	readMail  = []string{ScopeGmailReadonly, ScopeGmailModify, ScopeMailFull}
	sendMail  = []string{ScopeGmailSend, ScopeGmailModify, ScopeMailFull}
	trashMail = []string{ScopeGmailModify, ScopeMailFull}
	readDrive = []string{ScopeDriveReadonly, ScopeDrive}
	identity  = []string{"openid", "email", "profile"}
)

// Message is a Gmail message of an account.
type Message struct {
	ID, ThreadID string
	From         string
	To           []string
	Subject      string
	Body         string
	Date         time.Time
}

// File is a Drive file of an account (plain text).
type File struct {
	ID, Name string
	Body     string
	Modified time.Time
}

// Sent is a message an account sent (the raw RFC 2822 text).
type Sent struct {
	Account string
	Raw     string
}

type grant struct {
	clientID, redirect, challenge, account string
	scopes                                 []string
}

type access struct {
	account string
	expiry  time.Time
	scopes  []string
}

// refreshGrant is what a refresh token stands for.
type refreshGrant struct {
	account string
	scopes  []string
}

// Server is the fake. Its zero value is not usable; call Start.
type Server struct {
	// URL is the server's base URL.
	URL      string
	ClientID string
	Secret   string
	srv      *httptest.Server

	mu sync.Mutex // guards all following fields
	// Lifetime is how long an access token lives.
	lifetime time.Duration
	codes    map[string]grant
	access   map[string]access
	refresh  map[string]refreshGrant
	// given are the scopes each account gave the client so far.
	given     map[string][]string
	lastCall  []string // scopes of the token of the last authorised API call
	mail      map[string][]Message
	files     map[string][]File
	sent      []Sent
	trashed   []string
	refreshes int
	revoked   []string
	apiCalls  int
}

// Start starts a fake that accepts the OAuth client (clientID, secret).
func Start(clientID, secret string) *Server {
	s := &Server{ClientID: clientID, Secret: secret, lifetime: time.Hour,
		codes: map[string]grant{}, access: map[string]access{}, refresh: map[string]refreshGrant{}, given: map[string][]string{},
		mail: map[string][]Message{}, files: map[string][]File{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AuthPath, s.consent)
	mux.HandleFunc("POST "+TokenPath, s.token)
	mux.HandleFunc("POST "+RevokePath, s.revoke)
	mux.HandleFunc("GET "+UserinfoPath, s.api(identity, s.userinfo))
	mux.HandleFunc("GET /gmail/v1/users/me/messages", s.api(readMail, s.listMessages))
	mux.HandleFunc("GET /gmail/v1/users/me/messages/{id}", s.api(readMail, s.getMessage))
	mux.HandleFunc("POST /gmail/v1/users/me/messages/send", s.api(sendMail, s.send))
	mux.HandleFunc("POST /gmail/v1/users/me/messages/{id}/trash", s.api(trashMail, s.trash))
	mux.HandleFunc("GET /gmail/v1/users/me/threads", s.api(readMail, s.listThreads))
	mux.HandleFunc("GET /gmail/v1/users/me/threads/{id}", s.api(readMail, s.getThread))
	mux.HandleFunc("GET /drive/v3/files", s.api(readDrive, s.listFiles))
	mux.HandleFunc("GET /drive/v3/files/{id}", s.api(readDrive, s.getFile))
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetTokenLifetime sets how long access tokens issued from now on live.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// AddMessage puts m in account's mailbox.
func (s *Server) AddMessage(account string, m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ThreadID == "" {
		m.ThreadID = m.ID
	}
	s.mail[account] = append(s.mail[account], m)
}

// AddFile puts f in account's drive.
func (s *Server) AddFile(account string, f File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[account] = append(s.files[account], f)
}

// Refreshes counts refresh-token grants served.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Revoked lists the tokens revoked, in order.
func (s *Server) Revoked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.revoked)
}

// SentMail lists the messages sent through the Gmail API.
func (s *Server) SentMail() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Trashed lists the message IDs moved to the trash.
func (s *Server) Trashed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.trashed)
}

// APICalls counts authorised Gmail and Drive API calls.
func (s *Server) APICalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiCalls
}

// IssueToken returns a new access token of account, as if the account had
// consented to reading and changing its mail and reading its drive (for
// tests of one app, without the consent round trip).
func (s *Server) IssueToken(account string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := randToken("ya29.")
	s.access[at] = access{account: account, expiry: time.Now().Add(s.lifetime), scopes: allScopes}
	return at
}

// TokenScopes returns the scopes a live access token carries, or nil.
func (s *Server) TokenScopes(token string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.access[token].scopes)
}

// TokenAccount returns the account a live access token belongs to, or "".
func (s *Server) TokenAccount(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access[token].account
}

// LastCallScopes returns the scopes of the token that made the last
// authorised Gmail or Drive call.
func (s *Server) LastCallScopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lastCall)
}

// AccessTokens lists the access tokens currently valid.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.access {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func randToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// oauthError writes an OAuth error answer (RFC 6749 §5.2).
func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": errCode, "error_description": desc})
}

// apiError writes Google's JSON error envelope.
func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": http.StatusText(code)}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// consent is Google's consent page, agreed to at once by the signed-in
// account.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	account := r.Header.Get(AccountHeader)
	switch {
	case account == "":
		http.Error(w, "not signed in (set "+AccountHeader+")", http.StatusUnauthorized)
		return
	case q.Get("client_id") != s.ClientID:
		http.Error(w, "invalid_client", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "unsupported_response_type", http.StatusBadRequest)
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		http.Error(w, "PKCE with S256 required", http.StatusBadRequest)
		return
	case q.Get("redirect_uri") == "" || q.Get("state") == "":
		http.Error(w, "redirect_uri and state required", http.StatusBadRequest)
		return
	}
	red, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := randToken("code-")
	scopes := strings.Fields(q.Get("scope"))
	s.mu.Lock()
	if q.Get("include_granted_scopes") == "true" {
		scopes = union(s.given[account], scopes)
	}
	s.given[account] = union(s.given[account], scopes)
	s.codes[code] = grant{clientID: s.ClientID, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), account: account, scopes: scopes}
	s.mu.Unlock()
	rq := red.Query()
	rq.Set("code", code)
	rq.Set("state", q.Get("state"))
	rq.Set("scope", strings.Join(scopes, " "))
	red.RawQuery = rq.Encode()
	http.Redirect(w, r, red.String(), http.StatusFound)
}

// clientAuth reads the client's credentials from Basic auth or the form.
func (s *Server) clientAuth(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == s.ClientID && secret == s.Secret
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	if !s.clientAuth(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var account, refresh string
	var scopes []string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		g, ok := s.codes[code]
		delete(s.codes, code) // a code works once
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
			return
		case g.redirect != r.PostForm.Get("redirect_uri"):
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
			return
		}
		account, scopes = g.account, g.scopes
		refresh = randToken("1//refresh-")
		s.refresh[refresh] = refreshGrant{account: account, scopes: scopes}
	case "refresh_token":
		rg, ok := s.refresh[r.PostForm.Get("refresh_token")]
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		account, scopes = rg.account, rg.scopes
		// A refresh may narrow the scopes, never widen them (RFC 6749 §6).
		if want := strings.Fields(r.PostForm.Get("scope")); len(want) > 0 {
			for _, sc := range want {
				if !slices.Contains(rg.scopes, sc) {
					oauthError(w, http.StatusBadRequest, "invalid_scope", "Some requested scopes were invalid. {invalid=["+sc+"]}")
					return
				}
			}
			scopes = want
		}
		s.refreshes++
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type.")
		return
	}
	at := randToken("ya29.")
	s.access[at] = access{account: account, expiry: time.Now().Add(s.lifetime), scopes: scopes}
	out := map[string]any{"access_token": at, "expires_in": int(s.lifetime / time.Second), "token_type": "Bearer", "scope": strings.Join(scopes, " ")}
	if refresh != "" {
		out["refresh_token"] = refresh
	}
	writeJSON(w, out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	t := r.PostForm.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := s.refresh[t]
	account := rg.account
	if !ok {
		if a, ok2 := s.access[t]; ok2 {
			account, ok = a.account, true
		}
	}
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	s.revoked = append(s.revoked, t)
	// Revoking either token revokes the grant: every token of the account.
	for k, g := range s.refresh {
		if g.account == account {
			delete(s.refresh, k)
		}
	}
	delete(s.given, account)
	for k, a := range s.access {
		if a.account == account {
			delete(s.access, k)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// api authorises a call that needs one of scopes and passes the account on.
func (s *Server) api(scopes []string, h func(w http.ResponseWriter, r *http.Request, account string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		a, found := s.access[tok]
		allowed := slices.ContainsFunc(a.scopes, func(sc string) bool { return slices.Contains(scopes, sc) })
		if found && ok && allowed {
			s.apiCalls++
			s.lastCall = slices.Clone(a.scopes)
		}
		s.mu.Unlock()
		if !ok || !found || time.Now().After(a.expiry) {
			apiError(w, http.StatusUnauthorized, "Request had invalid authentication credentials.")
			return
		}
		if !allowed {
			apiError(w, http.StatusForbidden, "Request had insufficient authentication scopes.")
			return
		}
		h(w, r, a.account)
	}
}

func matches(m Message, q string) bool {
	text := strings.ToLower(m.From + " " + m.Subject + " " + m.Body + " " + strings.Join(m.To, " "))
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if _, v, ok := strings.Cut(w, ":"); ok {
			w = v
		}
		if strings.Contains(text, w) {
			return true
		}
	}
	return strings.TrimSpace(q) == ""
}

func (s *Server) mailbox(account string) []Message {
	var out []Message
	for _, m := range s.mail[account] {
		if !slices.Contains(s.trashed, m.ID) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Message) int { return b.Date.Compare(a.Date) })
	return out
}

func maxResults(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("maxResults"))
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refs []map[string]string
	for _, m := range s.mailbox(account) {
		if matches(m, r.URL.Query().Get("q")) && len(refs) < maxResults(r) {
			refs = append(refs, map[string]string{"id": m.ID, "threadId": m.ThreadID})
		}
	}
	writeJSON(w, map[string]any{"messages": refs, "resultSizeEstimate": len(refs)})
}

// wire renders m as users.messages.get (format=full) answers it.
func wire(m Message) map[string]any {
	hdr := []map[string]string{{"name": "From", "value": m.From}, {"name": "To", "value": strings.Join(m.To, ", ")},
		{"name": "Subject", "value": m.Subject}, {"name": "Date", "value": m.Date.Format(time.RFC1123Z)}}
	return map[string]any{
		"id": m.ID, "threadId": m.ThreadID, "labelIds": []string{"INBOX"},
		"snippet": m.Body[:min(len(m.Body), 100)], "internalDate": strconv.FormatInt(m.Date.UnixMilli(), 10),
		"payload": map[string]any{"mimeType": "multipart/alternative", "headers": hdr, "parts": []any{
			map[string]any{"partId": "0", "mimeType": "text/plain", "body": map[string]any{"size": len(m.Body), "data": base64.URLEncoding.EncodeToString([]byte(m.Body))}},
		}},
	}
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mailbox(account) {
		if m.ID == r.PathValue("id") {
			writeJSON(w, wire(m))
			return
		}
	}
	apiError(w, http.StatusNotFound, "Requested entity was not found.")
}

func (s *Server) listThreads(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refs []map[string]string
	seen := map[string]bool{}
	for _, m := range s.mailbox(account) {
		if matches(m, r.URL.Query().Get("q")) && !seen[m.ThreadID] && len(refs) < maxResults(r) {
			seen[m.ThreadID] = true
			refs = append(refs, map[string]string{"id": m.ThreadID})
		}
	}
	writeJSON(w, map[string]any{"threads": refs})
}

func (s *Server) getThread(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var msgs []any
	for _, m := range s.mailbox(account) {
		if m.ThreadID == r.PathValue("id") {
			msgs = append(msgs, wire(m))
		}
	}
	if len(msgs) == 0 {
		apiError(w, http.StatusNotFound, "Requested entity was not found.")
		return
	}
	writeJSON(w, map[string]any{"id": r.PathValue("id"), "messages": msgs})
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, account string) {
	var body struct {
		Raw string `json:"raw"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.Raw == "" {
		apiError(w, http.StatusBadRequest, "'raw' RFC822 payload message string or uploading message via /upload/* URL required")
		return
	}
	raw, err := base64.URLEncoding.DecodeString(body.Raw)
	if err != nil {
		apiError(w, http.StatusBadRequest, "Invalid value for ByteString")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, Sent{Account: account, Raw: string(raw)})
	writeJSON(w, map[string]any{"id": fmt.Sprintf("sent-%d", len(s.sent)), "threadId": "t-sent", "labelIds": []string{"SENT"}})
}

func (s *Server) trash(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mailbox(account) {
		if m.ID == r.PathValue("id") {
			s.trashed = append(s.trashed, m.ID)
			writeJSON(w, map[string]any{"id": m.ID, "labelIds": []string{"TRASH"}})
			return
		}
	}
	apiError(w, http.StatusNotFound, "Requested entity was not found.")
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query().Get("q")
	var out []map[string]string
	for _, f := range s.files[account] {
		ok := !strings.Contains(q, "fullText contains")
		for _, part := range strings.Split(q, "fullText contains '")[1:] {
			term, _, _ := strings.Cut(part, "'")
			if strings.Contains(strings.ToLower(f.Name+" "+f.Body), strings.ToLower(term)) {
				ok = true
			}
		}
		if ok {
			out = append(out, map[string]string{"id": f.ID, "name": f.Name, "mimeType": "text/plain", "modifiedTime": f.Modified.UTC().Format(time.RFC3339)})
		}
	}
	writeJSON(w, map[string]any{"files": out})
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files[account] {
		if f.ID != r.PathValue("id") {
			continue
		}
		if r.URL.Query().Get("alt") == "media" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, f.Body)
			return
		}
		writeJSON(w, map[string]string{"id": f.ID, "name": f.Name, "mimeType": "text/plain"})
		return
	}
	apiError(w, http.StatusNotFound, "File not found: "+r.PathValue("id")+".")
}

// userinfo is the OpenID Connect userinfo endpoint: who the token's account is.
func (s *Server) userinfo(w http.ResponseWriter, _ *http.Request, account string) {
	sum := sha256.Sum256([]byte(account))
	writeJSON(w, map[string]any{"sub": hex.EncodeToString(sum[:8]), "email": account, "email_verified": true})
}

// union returns a's scopes followed by those of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
