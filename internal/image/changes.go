package image

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// ApplyChanges applies Dockerfile instructions to an image config, as
// docker import --change and docker commit --change do. The instructions
// allowed are docker's: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
// ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR; any other is
// errdefs.ErrInvalidParameter, as is a malformed one. Each change is one
// instruction (a line of a Dockerfile, without continuation lines).
func ApplyChanges(c *dockerspec.DockerOCIImageConfig, changes []string) error {
	cmdSet := false
	for _, line := range changes {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			instr, rest = line[:i], line[i+1:]
		}
		rest = strings.TrimSpace(rest)
		instr = strings.ToUpper(instr)
		var err error
		switch instr {
		case "CMD":
			c.Cmd, err = commandArgs(rest, c.Shell)
			cmdSet = true
		case "ENTRYPOINT":
			c.Entrypoint, err = commandArgs(rest, c.Shell)
			if !cmdSet {
				// As in a Dockerfile: a new entrypoint drops an
				// inherited CMD unless one was given alongside.
				c.Cmd = nil
			}
		case "ENV":
			err = applyEnv(c, rest)
		case "EXPOSE":
			err = applyExpose(c, rest)
		case "LABEL":
			var kvs [][2]string
			if kvs, err = keyValues(rest, false); err == nil {
				if c.Labels == nil {
					c.Labels = map[string]string{}
				}
				for _, kv := range kvs {
					c.Labels[kv[0]] = kv[1]
				}
			}
		case "USER":
			if rest == "" {
				err = fmt.Errorf("USER requires exactly one argument")
			}
			c.User = rest
		case "WORKDIR":
			if rest == "" {
				err = fmt.Errorf("WORKDIR requires exactly one argument")
			}
			w := unquote(rest)
			if !path.IsAbs(w) {
				w = path.Join("/", c.WorkingDir, w)
			}
			c.WorkingDir = path.Clean(w)
		case "VOLUME":
			var vols []string
			if vols, err = jsonOrWords(rest); err == nil {
				if len(vols) == 0 {
					err = fmt.Errorf("VOLUME requires at least one argument")
				}
				if c.Volumes == nil {
					c.Volumes = map[string]struct{}{}
				}
				for _, v := range vols {
					if v = strings.TrimSpace(v); v == "" {
						err = fmt.Errorf("VOLUME specified can not be an empty string")
						break
					}
					c.Volumes[v] = struct{}{}
				}
			}
		case "STOPSIGNAL":
			err = checkSignal(rest)
			c.StopSignal = rest
		case "ONBUILD":
			sub, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			switch strings.ToUpper(sub) {
			case "":
				err = fmt.Errorf("ONBUILD requires an instruction")
			case "ONBUILD", "FROM", "MAINTAINER":
				err = fmt.Errorf("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(sub))
			default:
				c.OnBuild = append(c.OnBuild, strings.ToUpper(sub)+strings.TrimPrefix(rest, sub))
			}
		case "HEALTHCHECK":
			err = applyHealthcheck(c, rest)
		default:
			err = fmt.Errorf("%s is not a valid change command", instr)
		}
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "change %q: %v", line, err)
		}
	}
	return nil
}

// commandArgs reads CMD and ENTRYPOINT: the JSON (exec) form as it is,
// the shell form run by the image's shell (default /bin/sh -c).
func commandArgs(rest string, shell []string) ([]string, error) {
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err == nil {
			return args, nil
		}
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	if rest == "" {
		return nil, nil
	}
	return append(append([]string(nil), shell...), rest), nil
}

func jsonOrWords(rest string) ([]string, error) {
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err != nil {
			return nil, err
		}
		return args, nil
	}
	words, err := splitWords(rest)
	return words, err
}

func applyEnv(c *dockerspec.DockerOCIImageConfig, rest string) error {
	kvs, err := keyValues(rest, true)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		entry := kv[0] + "=" + kv[1]
		replaced := false
		for i, e := range c.Env {
			if k, _, _ := strings.Cut(e, "="); k == kv[0] {
				c.Env[i], replaced = entry, true
			}
		}
		if !replaced {
			c.Env = append(c.Env, entry)
		}
	}
	return nil
}

// keyValues reads "k=v k2='v 2'" or, where legacy is allowed, the old
// "k value with spaces" form of ENV and LABEL.
func keyValues(rest string, legacy bool) ([][2]string, error) {
	words, err := splitWords(rest)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("requires at least one argument")
	}
	if !strings.Contains(words[0], "=") {
		if !legacy && len(words) < 2 {
			return nil, fmt.Errorf("requires key=value arguments")
		}
		// Legacy: the first word is the key, the rest of the line the
		// value (taken raw, as docker does).
		k := words[0]
		_, v, _ := strings.Cut(strings.TrimSpace(rest), " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on blanks, honouring double and single quotes and
// backslash escapes, as the Dockerfile parser does for ENV and LABEL.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unmatched quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func unquote(s string) string {
	if w, err := splitWords(s); err == nil && len(w) == 1 {
		return w[0]
	}
	return s
}

// applyExpose reads "80 443/tcp 53/udp 8000-8002".
func applyExpose(c *dockerspec.DockerOCIImageConfig, rest string) error {
	words, err := splitWords(rest)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("EXPOSE requires at least one argument")
	}
	if c.ExposedPorts == nil {
		c.ExposedPorts = map[string]struct{}{}
	}
	for _, w := range words {
		port, proto, _ := strings.Cut(strings.ToLower(w), "/")
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return fmt.Errorf("invalid proto: %s", proto)
		}
		lo, hi, isRange := strings.Cut(port, "-")
		start, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return fmt.Errorf("invalid containerPort: %s", port)
		}
		end := start
		if isRange {
			if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
				return fmt.Errorf("invalid range specified for container: %s", port)
			}
		}
		for p := start; p <= end; p++ {
			c.ExposedPorts[fmt.Sprintf("%d/%s", p, proto)] = struct{}{}
		}
	}
	return nil
}

func checkSignal(s string) error {
	if s == "" {
		return fmt.Errorf("STOPSIGNAL requires exactly one argument")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	switch name {
	case "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
		"KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
		"TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ":
		return nil
	}
	if strings.HasPrefix(name, "RTMIN") || strings.HasPrefix(name, "RTMAX") {
		return nil
	}
	return fmt.Errorf("invalid signal: %s", s)
}

// applyHealthcheck reads "NONE" or "[--interval=d] [--timeout=d]
// [--start-period=d] [--start-interval=d] [--retries=n] CMD command".
func applyHealthcheck(c *dockerspec.DockerOCIImageConfig, rest string) error {
	if strings.EqualFold(strings.TrimSpace(rest), "NONE") {
		c.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}
		return nil
	}
	hc := &dockerspec.HealthcheckConfig{}
	for strings.HasPrefix(rest, "--") {
		flag, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(after)
		name, val, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			return fmt.Errorf("flag %s needs a value", flag)
		}
		if name == "retries" {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fmt.Errorf("--retries %q", val)
			}
			hc.Retries = n
			continue
		}
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return fmt.Errorf("--%s %q: not a duration", name, val)
		}
		switch name {
		case "interval":
			hc.Interval = d
		case "timeout":
			hc.Timeout = d
		case "start-period":
			hc.StartPeriod = d
		case "start-interval":
			hc.StartInterval = d
		default:
			return fmt.Errorf("unknown flag: --%s", name)
		}
	}
	kw, cmd, _ := strings.Cut(rest, " ")
	if !strings.EqualFold(kw, "CMD") || strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("HEALTHCHECK needs NONE or CMD and a command")
	}
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, "[") {
		var args []string
		if err := json.Unmarshal([]byte(cmd), &args); err == nil {
			hc.Test = append([]string{"CMD"}, args...)
			c.Healthcheck = hc
			return nil
		}
	}
	hc.Test = []string{"CMD-SHELL", cmd}
	c.Healthcheck = hc
	return nil
}
