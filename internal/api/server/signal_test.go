package server

import (
	"strings"
	"testing"
)

func TestParseSignal(t *testing.T) {
	good := map[string]int{"KILL": 9, "sigterm": 15, "SIGHUP": 1, "9": 9, "64": 64, "RTMIN": 34, "SIGRTMIN+3": 37,
		"rtmax-1": 63, "RTMAX": 64, "CLD": 17, "IOT": 6, "POLL": 29, "usr1": 10, "WINCH": 28}
	for s, n := range good {
		sig, err := ParseSignal(s)
		if err != nil || int(sig) != n {
			t.Errorf("%s: %d %v, want %d", s, sig, err, n)
		}
	}
	if _, err := ParseSignal("65"); err == nil || statusFor(err) != 400 || err.Error() != "the linux daemon does not support signal 65" {
		t.Errorf("65 accepted or badly refused: %v", err)
	}
	for _, s := range []string{"", "0", "-9", "FOO", "SIG", "RTMIN-1", "RTMAX+1", "RTMIN+16", "KILL ", "RTMIN+", "SIGSIGKILL"} {
		if _, err := ParseSignal(s); err == nil || statusFor(err) != 400 || !strings.HasPrefix(err.Error(), "Invalid signal: ") {
			t.Errorf("%q accepted or badly refused: %v", s, err)
		}
	}
}
