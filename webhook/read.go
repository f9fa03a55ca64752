package webhook

import (
	"errors"
	"fmt"
	"io"
)

// ErrBodyTooLarge is returned by Verifier.VerifyRequest for a body over its limit.
var ErrBodyTooLarge = errors.New("webhook: request body too large")

func readAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: reading body: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, max)
	}
	return b, nil
}
