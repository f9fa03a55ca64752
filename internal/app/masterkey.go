package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// masterKey returns the 32-byte key that encrypts secrets at rest. With SQLite and no key
// configured, one is generated into the data dir on first run (mode 0600) and reused; back
// it up with the database. With PostgreSQL it must be configured, so instances share it.
func masterKey(c Config, postgres bool) ([]byte, error) {
	if c.MasterKey != "" {
		return decodeKey(c.MasterKey, EnvMasterKey)
	}
	if postgres {
		return nil, errors.New(EnvMasterKey + " is required with PostgreSQL (32 random bytes, base64; `openssl rand -base64 32`), the same on every instance")
	}
	path := filepath.Join(c.DataDir, "master.key")
	if b, err := os.ReadFile(path); err == nil {
		return decodeKey(strings.TrimSpace(string(b)), path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process just made it
			return masterKey(c, postgres)
		}
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Sync()
}

func decodeKey(s, from string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: the master key must be 32 bytes, base64-encoded", from)
	}
	return key, nil
}
