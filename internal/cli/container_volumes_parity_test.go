package cli

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestCreateVolumeFlagsMatchDocker compares the create bodies docker CLI
// 28 and berth send for every form of -v, --mount, --tmpfs,
// --volumes-from and --read-only, and their refusals of bad ones.
func TestCreateVolumeFlagsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	// Relative -v and --mount sources resolve against the working
	// directory, the package's for both CLIs.
	cases := [][]string{
		// -v: named, anonymous, bind, modes.
		{"-v", "data:/data"},
		{"-v", "data:/data:ro"},
		{"-v", "data:/data:rw,nocopy"},
		{"-v", "data:/data:nocopy"},
		{"-v", "/anon"},
		{"-v", "/anon", "-v", "/anon"},
		{"-v", "ab"},
		{"-v", "name"},
		{"-v", "a:/x"},
		{"-v", "c:/x:/y"},
		{"-v", "data:/data:ro:extra"},
		{"-v", "/tmp:/host"},
		{"-v", "/tmp:/host:ro,z"},
		{"-v", "/tmp:/host:Z,rslave"},
		{"-v", "/tmp:/host:ro,rshared,Z"},
		{"-v", "/tmp:/host:shared"},
		{"-v", "/tmp:/host:bogus"},
		{"-v", "./rel:/rel"},
		{"-v", "../up:/up:ro"},
		{"-v", "~/home:/h"},
		{"-v", "/tmp:/host", "-v", "data:/data", "-v", "/anon"},
		{"-v", "data:/data", "--volume-driver", "local"},
		// --mount: every key docker accepts.
		{"--mount", "type=bind,source=/tmp,target=/t"},
		{"--mount", "type=bind,src=/tmp,dst=/t,readonly"},
		{"--mount", "type=bind,src=/tmp,destination=/t,ro=true"},
		{"--mount", "type=bind,src=/tmp,dst=/t,readonly=false"},
		{"--mount", "type=bind,src=/tmp,dst=/t,bind-propagation=rshared"},
		{"--mount", "type=bind,src=/tmp,dst=/t,bind-recursive=disabled"},
		{"--mount", "type=bind,src=/tmp,dst=/t,readonly,bind-recursive=writable"},
		{"--mount", "type=bind,src=/tmp,dst=/t,readonly,bind-recursive=readonly,bind-propagation=rprivate"},
		{"--mount", "type=bind,src=/tmp,dst=/t,bind-nonrecursive"},
		{"--mount", "type=bind,src=/tmp,dst=/t,bind-create-src"},
		{"--mount", "type=bind,src=/tmp,dst=/t,consistency=delegated"},
		{"--mount", "type=bind,src=./rel,dst=/t"},
		{"--mount", "type=volume,src=vol,dst=/v"},
		{"--mount", "src=vol,dst=/v,volume-nocopy"},
		{"--mount", "src=vol,dst=/v,volume-nocopy=false"},
		{"--mount", "src=vol,dst=/v,volume-subpath=sub/dir"},
		{"--mount", "src=vol,dst=/v,volume-label=a=b,volume-label=c=d"},
		{"--mount", "src=vol,dst=/v,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs"},
		{"--mount", "dst=/anon"},
		{"--mount", "type=tmpfs,dst=/run"},
		{"--mount", "type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770"},
		{"--mount", "type=tmpfs,dst=/run,tmpfs-size=1000"},
		{"--mount", "type=image,src=busybox,dst=/img"},
		{"--mount", "type=image,src=busybox,dst=/img,image-subpath=/bin"},
		{"--mount", "TYPE=BIND,SRC=/tmp,DST=/t,READONLY"},
		{"--mount", `"type=bind,src=/tmp,dst=/t"`},
		{"--mount", "type=bind,src=/tmp,dst=/t", "--mount", "type=tmpfs,dst=/run", "-v", "data:/data"},
		// --tmpfs, --volumes-from, --read-only.
		{"--tmpfs", "/run"},
		{"--tmpfs", "/run:rw,noexec,nosuid,size=65536k"},
		{"--tmpfs", "/a", "--tmpfs", "/b:size=1m"},
		{"--volumes-from", "other"},
		{"--volumes-from", "other:ro", "--volumes-from", "third:rw"},
		{"--read-only", "-v", "data:/data", "--tmpfs", "/tmp"},
		{"--read-only=false"},
	}
	bad := [][]string{
		{"-v", ""},
		{"-v", "a::b"},
		{"-v", "a:b:c:d"},
		{"-v", ":/x"},
		{"--mount", ""},
		{"--mount", "type=bind"},
		{"--mount", "type=bind,bind-propagation"},
		{"--mount", "type=volume,bind-propagation=rshared,dst=/x"},
		{"--mount", "type=bind,src=/tmp,dst=/t,volume-nocopy"},
		{"--mount", "type=tmpfs,dst=/t,bind-recursive=enabled"},
		{"--mount", "type=bind,volume-subpath=x,dst=/t"},
		{"--mount", "type=tmpfs,dst=/t,tmpfs-size=lots"},
		{"--mount", "type=tmpfs,dst=/t,tmpfs-mode=999"},
		{"--mount", "type=bind,src=/tmp,dst=/t,readonly=maybe"},
		{"--mount", "type=bind,src=/tmp,dst=/t,bind-recursive=writable"},
		{"--mount", "type=bind,src=/tmp,dst=/t,readonly,bind-recursive=readonly"},
		{"--mount", "type=bind,src=/tmp,dst=/t,bind-recursive=sometimes"},
		{"--mount", "type=bind,src=/tmp,dst=/t,colour=red"},
		{"--mount", "type=bind,src=/tmp,dst=/t,COLOUR=red"},
		{"--mount", "type=bind,src=/tmp,dst=/t,FOO"},
		{"--mount", " "},
		{"--mount", "type=bind, src=/tmp"},
		{"--mount", "type=bind,src= /tmp"},
		{"--mount", "type=bind,src=,dst=/t"},
		{"--mount", "type=banana,dst=/t"},
		{"--mount", "type=image,dst=/t,volume-nocopy"},
		{"--mount", `type="bind,src=/tmp`},
	}
	compare := func(args []string) {
		t.Helper()
		full := append(append([]string{"create"}, args...), "busybox")
		d := createDaemon(t)
		_, derr, dcode := runDocker(t, d, full...)
		r := d.berth(full...)
		if dcode != r.code {
			t.Errorf("%v: docker exit %d (%s), berth exit %d (%s)", args, dcode, derr, r.code, r.err)
			return
		}
		if dcode != 0 {
			if dl, bl := lastLineOf(derr, "docker"), lastLineOf(r.err, "berth"); dl != bl {
				t.Errorf("%v: docker says %q, berth %q", args, derr, r.err)
			}
			return
		}
		sent := d.sent("POST /containers/create")
		if len(sent) != 2 {
			t.Errorf("%v: %d create requests", args, len(sent))
			return
		}
		want, got := sortBinds(normalize(t, sent[0].Body)), sortBinds(normalize(t, sent[1].Body))
		if !reflect.DeepEqual(want, got) {
			wj, _ := json.MarshalIndent(want, "", " ")
			gj, _ := json.MarshalIndent(got, "", " ")
			t.Errorf("%v: create bodies differ\ndocker:\n%s\nberth:\n%s", args, wj, gj)
		}
	}
	for _, c := range cases {
		compare(c)
	}
	for _, c := range bad {
		compare(c)
	}
}

// sortBinds sorts HostConfig.Binds: docker builds them from a map.
func sortBinds(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if hc, ok := m["HostConfig"].(map[string]any); ok {
		if b, ok := hc["Binds"].([]any); ok {
			sort.Slice(b, func(i, j int) bool { return b[i].(string) < b[j].(string) })
		}
	}
	return v
}

// lastLineOf is the first line of a usage error, with the program's name
// made neutral: "docker: invalid ..." and "berth: invalid ...".
func lastLineOf(s, prog string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	line = strings.ReplaceAll(line, prog, "PROG")
	return line
}
