package spec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

// The parsers take strings straight from API requests and images: they
// must never panic, and every refusal must be InvalidParameter.

func FuzzSecurityOpts(f *testing.F) {
	for _, s := range []string{"no-new-privileges", "seccomp=unconfined", "label:disable", "apparmor=x", "=", ":", "no-new-privileges=", "seccomp={}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, opt string) {
		if _, err := parseSecurityOpts(strings.Split(opt, "\n")); err != nil && !errdefs.IsInvalidParameter(err) {
			t.Fatalf("%q: %v is not InvalidParameter", opt, err)
		}
	})
}

func FuzzTmpfsOptions(f *testing.F) {
	for _, s := range []string{"", "size=1m,exec", "ro,,", "defaults", "mode=1777,uid=0,gid=0,nr_inodes=5", "=", "size"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		opts, err := tmpfsOptions(data)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("%q: %v is not InvalidParameter", data, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, o := range opts {
			if seen[o] {
				t.Fatalf("%q: %q twice in %q", data, o, opts)
			}
			seen[o] = true
		}
	})
}

func FuzzCPUSet(f *testing.F) {
	for _, s := range []string{"0", "0-3,5", "1-0", "-", ",", "0-1048576", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkCPUSetList("cpus", s, "0-3"); err != nil && !errdefs.IsInvalidParameter(err) {
			t.Fatalf("%q: %v is not InvalidParameter", s, err)
		}
	})
}

func FuzzAccountLines(f *testing.F) {
	for _, s := range []string{testPasswd, testGroup, ":::", "a:b:-1:-1", "x:x:1:1:::::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if p, ok := parsePasswdLine(line); ok && (p.uid < 0 || p.gid < 0) {
			t.Fatalf("%q: negative ids %+v", line, p)
		}
		if g, ok := parseGroupLine(line); ok && g.gid < 0 {
			t.Fatalf("%q: negative gid %+v", line, g)
		}
	})
}

func FuzzDeviceCgroupRule(f *testing.F) {
	for _, s := range []string{"c 1:3 rwm", "b *:* r", "a 99999999999999999999:1 m", "c 1:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		if _, err := parseDeviceCgroupRule(rule); err != nil && !errdefs.IsInvalidParameter(err) {
			t.Fatalf("%q: %v is not InvalidParameter", rule, err)
		}
	})
}

// FuzzCheckSettings: the create-time checks take the request's configs as
// the API decoded them. Whatever they hold, the checks and the defaults
// must not panic, and a refusal is InvalidParameter (a 400), never a 500.
func FuzzCheckSettings(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"Config":{"WorkingDir":"rel","Env":["=x"]},"HostConfig":{"Memory":1024,"MemorySwap":5}}`,
		`{"HostConfig":{"CpusetCpus":"0-99999999999","CpuQuota":-5,"NanoCpus":-1,"OomScoreAdj":5000}}`,
		`{"HostConfig":{"CapAdd":["ALL","bogus",""],"CapDrop":["cap_"],"Tmpfs":{"":"","/x":"size=-1"}}}`,
		`{"HostConfig":{"IpcMode":"container:","PidMode":"container:x","UTSMode":"host","CgroupnsMode":"?"}}`,
		`{"HostConfig":{"SecurityOpt":["seccomp=","apparmor","no-new-privileges=maybe"],"Ulimits":[null,{"Name":"","Soft":-1,"Hard":-2}]}}`,
		`{"HostConfig":{"Sysctls":{"net.":"1","kernel.shm_rmid_forced":""},"BlkioWeightDevice":[null,{"Path":"","Weight":1}]}}`,
		`{"HostConfig":{"MemoryReservation":-1,"MemorySwappiness":101,"PidsLimit":-9,"KernelMemory":1,"ShmSize":-1}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req struct {
			Config     *container.Config
			HostConfig *container.HostConfig
		}
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		if req.Config == nil {
			req.Config = &container.Config{}
		}
		if req.HostConfig == nil {
			req.HostConfig = &container.HostConfig{}
		}
		if err := CheckSettings(req.Config, req.HostConfig); err != nil && !errdefs.IsInvalidParameter(err) {
			t.Fatalf("CheckSettings(%s): %v is not InvalidParameter", body, err)
		}
		FillHostDefaults(req.HostConfig)
		if err := CheckResources(req.HostConfig); err != nil && !errdefs.IsInvalidParameter(err) {
			t.Fatalf("CheckResources(%s): %v is not InvalidParameter", body, err)
		}
	})
}
