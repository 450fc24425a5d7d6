package opts

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// ValidateEnv accepts KEY=VALUE, and KEY alone, which takes the CLI's own
// value of KEY when it has one.
func ValidateEnv(v string) (string, error) {
	k, _, hasValue := strings.Cut(v, "=")
	if k == "" {
		return "", errors.New("invalid environment variable: " + v)
	}
	if hasValue {
		return v, nil
	}
	if val, ok := os.LookupEnv(k); ok {
		return k + "=" + val, nil
	}
	return v, nil
}

// ValidateLabel accepts KEY[=VALUE] with a non-empty key without blanks.
func ValidateLabel(v string) (string, error) {
	k, _, _ := strings.Cut(v, "=")
	k = strings.TrimLeft(k, " \t")
	if k == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", v)
	}
	if strings.ContainsAny(k, " \t") {
		return "", fmt.Errorf("label '%s' contains whitespaces", k)
	}
	return v, nil
}

// ValidateSysctl accepts the namespaced sysctls docker allows.
func ValidateSysctl(v string) (string, error) {
	k, _, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return "", fmt.Errorf("sysctl '%s' is not allowed", v)
	}
	switch k {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return v, nil
	}
	if strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "fs.mqueue.") {
		return v, nil
	}
	return "", fmt.Errorf("sysctl '%s' is not allowed", v)
}

// ValidateAttach accepts stdin, stdout or stderr in any case.
func ValidateAttach(v string) (string, error) {
	s := strings.ToLower(v)
	if slices.Contains([]string{"stdin", "stdout", "stderr"}, s) {
		return s, nil
	}
	return v, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

var deviceCgroupRule = regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`)

// ValidateDeviceCgroupRule accepts 'type major:minor mode'.
func ValidateDeviceCgroupRule(v string) (string, error) {
	if deviceCgroupRule.MatchString(v) {
		return v, nil
	}
	return v, fmt.Errorf("invalid device cgroup format '%s'", v)
}
