package confine

import (
	"encoding/json"
	"os"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// reportProbe is the probe spoke's side: verify, report, wait for the hub
// to hang up, and exit without returning to app code.
func reportProbe(f *os.File, rep []launch.Check, err error) {
	msg := launch.ProbeReport{Checks: rep}
	if err != nil {
		msg.Error = err.Error()
	} else {
		msg.Checks = append(msg.Checks, selfCheck()...)
	}
	b, _ := json.Marshal(msg)
	_, _ = f.Write(append(b, '\n'))
	var buf [1]byte
	_, _ = f.Read(buf[:])
	os.Exit(0)
}
