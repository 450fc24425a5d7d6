package cli_test

import (
	"testing"
)

// TestCLI runs every table, and the interactive scenarios, with each
// client against one daemon: the scenarios' names are unique, so they
// share it and run in parallel.
func TestCLI(t *testing.T) {
	e := startEngine(t)
	var all []scenario
	for _, table := range [][]scenario{runScenarios, lifecycleScenarios, queryScenarios, imageScenarios, systemScenarios, errorScenarios} {
		all = append(all, table...)
	}
	for _, c := range clients() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c := c.resolve(t)
			runTable(t, e, c, all)
			t.Run("run-it", func(t *testing.T) {
				t.Parallel()
				testRunInteractive(t, e, c)
			})
			t.Run("exec-it", func(t *testing.T) {
				t.Parallel()
				testExecInteractive(t, e, c)
			})
			t.Run("logs-follow", func(t *testing.T) {
				t.Parallel()
				testLogsFollow(t, e, c)
			})
		})
	}
}
