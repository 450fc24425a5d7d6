package registrytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// The service and issuer names the registry's token configuration and the
// token server agree on: the registry checks a token's "aud" against the
// service and its "iss" against the issuer.
const (
	tokenService = "berth-test-registry"
	tokenIssuer  = "berth-test-token-issuer"
	tokenTTL     = 5 * time.Minute
)

// tokenServer is a minimal Docker token server (the protocol of
// distribution's docs/spec/auth/token.md): GET or POST /token with basic
// credentials and scope parameters returns a JWT the registry accepts.
type tokenServer struct {
	srv        *httptest.Server
	realm      string
	certPath   string
	key        *ecdsa.PrivateKey
	kid        string
	user, pass string
	issued     atomic.Int64
}

func startTokenServer(dir, user, pass string) (*tokenServer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// The registry reads its trusted signing keys from certificates, so the
	// key gets a self-signed one; only its public key matters.
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: tokenIssuer},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	certPath := filepath.Join(dir, "token-root.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	kid, err := libtrustKeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	ts := &tokenServer{certPath: certPath, key: key, kid: kid, user: user, pass: pass}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serveToken))
	// The realm names the server "localhost", not 127.0.0.1: ggcr (since
	// v0.22, against SSRF) refuses a realm whose host is a loopback or
	// private IP literal unless it is the registry's own host:port, while
	// a name is allowed.
	ts.realm = "http://localhost:" + strings.TrimPrefix(ts.srv.URL, "http://127.0.0.1:") + "/token"
	return ts, nil
}

func (ts *tokenServer) close() { ts.srv.Close() }

// libtrustKeyID returns the key ID distribution 2.8 (through docker's
// libtrust) computes for a trusted public key and looks up by the JWT's
// "kid": the SHA-256 of the key's PKIX DER encoding, cut to 240 bits,
// base32-encoded and written as twelve colon-separated groups of four.
func libtrustKeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	enc := strings.TrimRight(base32.StdEncoding.EncodeToString(sum[:30]), "=")
	groups := make([]string, 0, len(enc)/4)
	for len(enc) > 0 {
		n := min(4, len(enc))
		groups = append(groups, enc[:n])
		enc = enc[n:]
	}
	return strings.Join(groups, ":"), nil
}

// tokenAccess is one entry of a token's "access" claim.
type tokenAccess struct {
	Type    string   `json:"type"`
	Class   string   `json:"class,omitempty"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// GET is the basic-credentials flow; POST is the OAuth2 flow the docker
	// CLI uses when it has a refresh token or password grant. Both carry the
	// same parameters (query or form).
	if err := req.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	user, pass, hasBasic := req.BasicAuth()
	if req.Method == http.MethodPost && req.PostForm.Get("grant_type") == "password" {
		user, pass, hasBasic = req.PostForm.Get("username"), req.PostForm.Get("password"), true
	}
	subject := ""
	if hasBasic {
		if !ts.credentialsMatch(user, pass) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"details":"incorrect username or password"}`))
			return
		}
		subject = user
	}
	if svc := req.Form.Get("service"); svc != "" && svc != tokenService {
		http.Error(w, "unknown service "+svc, http.StatusBadRequest)
		return
	}

	// Authenticated clients get whatever they ask for; anonymous ones get a
	// token that grants nothing, so the registry answers 401 as a real one
	// does for a private repository.
	access := []tokenAccess{}
	if subject != "" {
		for _, scope := range req.Form["scope"] {
			// One parameter may hold several space-separated scopes.
			for _, s := range strings.Fields(scope) {
				if a, ok := parseScope(s); ok {
					access = append(access, a)
				}
			}
		}
	}
	token, err := ts.sign(subject, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ts.issued.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        token,
		"access_token": token,
		"expires_in":   int(tokenTTL.Seconds()),
		"issued_at":    time.Now().UTC().Format(time.RFC3339),
	})
}

func (ts *tokenServer) credentialsMatch(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(ts.user))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(ts.pass))
	return u&p == 1
}

// parseScope parses "type[(class)]:name:action,action". The name is
// everything between the first and the last colon, since a repository name
// may not hold a colon but a future resource type's name might.
func parseScope(s string) (tokenAccess, bool) {
	first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
	if first < 0 || first == last {
		return tokenAccess{}, false
	}
	a := tokenAccess{Type: s[:first], Name: s[first+1 : last], Actions: strings.Split(s[last+1:], ",")}
	if open := strings.Index(a.Type, "("); open > 0 && strings.HasSuffix(a.Type, ")") {
		a.Type, a.Class = a.Type[:open], a.Type[open+1:len(a.Type)-1]
	}
	return a, true
}

// sign returns a compact JWS (ES256) of the claims the registry checks.
func (ts *tokenServer) sign(subject string, access []tokenAccess) (string, error) {
	now := time.Now()
	var jti [8]byte
	_, _ = rand.Read(jti[:])
	header, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "kid": ts.kid})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss":    tokenIssuer,
		"sub":    subject,
		"aud":    tokenService,
		"exp":    now.Add(tokenTTL).Unix(),
		"nbf":    now.Add(-time.Second).Unix(),
		"iat":    now.Unix(),
		"jti":    hex.EncodeToString(jti[:]),
		"access": access,
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, ts.key, digest[:])
	if err != nil {
		return "", err
	}
	// JWS wants R and S as fixed-width big-endian halves, not ASN.1.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signingInput + "." + enc.EncodeToString(sig), nil
}
