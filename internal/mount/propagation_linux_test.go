package mount

import "testing"

func TestPropagationIn(t *testing.T) {
	info := []byte(`27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:42 / /var/sh rw shared:5 - tmpfs tmpfs rw
41 27 0:43 / /var/sl rw master:5 - tmpfs tmpfs rw
42 41 0:44 / /var/sl/in\040sp rw shared:7 master:5 - tmpfs tmpfs rw
43 40 0:45 / /var/sh rw - tmpfs tmpfs rw
`)
	cases := []struct {
		path          string
		mp            string
		shared, slave bool
	}{
		{"/", "/", false, false},
		{"/etc/x", "/", false, false},
		{"/var/shx", "/", false, false},
		// Mounted over: the later mount at the same point is the one seen.
		{"/var/sh/a", "/var/sh", false, false},
		{"/var/sl", "/var/sl", false, true},
		{"/var/sl/in sp/f", "/var/sl/in sp", true, true},
	}
	for _, c := range cases {
		p, ok := propagationIn(info, c.path)
		if !ok || p.MountPoint != c.mp || p.Shared != c.shared || p.Slave != c.slave {
			t.Errorf("%s: got %+v %v, want %s shared=%v slave=%v", c.path, p, ok, c.mp, c.shared, c.slave)
		}
	}
	if _, ok := propagationIn(nil, "/x"); ok {
		t.Error("empty mountinfo: found a mount")
	}
}
