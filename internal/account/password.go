package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id costs for new hashes (OWASP's 19 MiB, 2 passes, 1 lane).
// Stored hashes carry their own parameters, so raising these later keeps old hashes valid.
var PasswordParams = struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}{Memory: 19 * 1024, Time: 2, Threads: 1}

// Password length limits; the upper one bounds the work an attacker can make us do.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// HashPassword returns a PHC-format argon2id hash.
func HashPassword(pw string) (string, error) {
	if err := checkPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	p := PasswordParams
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

func checkPassword(pw string) error {
	if len(pw) < MinPasswordLen {
		return invalidf("the password must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return invalidf("the password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

var errBadHash = errors.New("unrecognised password hash")

// CheckPassword compares pw with a stored hash in constant time.
func CheckPassword(pw, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var mem, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &threads); err != nil {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	if len(pw) > MaxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, t, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when the email is unknown, so that answering "no such user"
// takes as long as "wrong password".
var dummyHash, _ = HashPassword("relaydesk-timing-equaliser")
