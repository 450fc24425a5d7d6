package content

// SetCrashHook lets the crash tests kill the process at a crash point.
func SetCrashHook(f func(point string)) { crashHook = f }

// CrashPoints are the points where crashHook is called.
var CrashPoints = []string{
	"ingest-mkdir",
	"ingest-set-up",
	"write",
	"close",
	"commit-verified",
	"commit-labels-written",
	"commit-renamed",
	"commit-synced",
	"discard-renamed",
	"atomic-temp-written",
	"delete-blob-removed",
	"recovered-ingests",
}
