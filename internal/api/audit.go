package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/store"
)

// AuditNeed is who may read the audit log: workspace owners (docs/architecture.md §10). The
// log spans every feature (endpoints, secrets and keys, deliveries, relays, members, roles,
// invitations, API keys, Zapier hooks), so it needs owner level on team — the level that
// administers who may do what. The built-in Admin has it; Manager (team editor) and a
// developer-only owner do not.
var AuditNeed = access.Require(access.Team, access.Owner)

type auditPage struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor string        `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// RegisterAudit adds GET /v1/audit-log.
func (s *Server) RegisterAudit(db *store.DB) {
	h := &auditAPI{Server: s, db: db}
	Register(s, huma.Operation{OperationID: "listAuditLog", Method: http.MethodGet, Path: "/v1/audit-log", Summary: "Read the audit log",
		Description: "Who did what, when and from where in this workspace, newest first. Pages of at most 100 entries: pass the " +
			"previous page's nextCursor as cursor to read on.",
		Tags: []string{"Audit log"}},
		AuditNeed, h.listAuditLog)
}

// auditAPI holds the handlers RegisterAudit adds, with what they use.
type auditAPI struct {
	*Server
	db *store.DB
}

type listAuditLogIn struct {
	Cursor string `query:"cursor" maxLength:"100" doc:"The nextCursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
}

type listAuditLogOut struct{ Body auditPage }

func (s *auditAPI) listAuditLog(ctx context.Context, in *listAuditLogIn) (*listAuditLogOut, error) {
	entries, next, err := audit.List(ctx, s.db, access.From(ctx).WorkspaceID, in.Cursor, in.Limit)
	return &listAuditLogOut{auditPage{Entries: entries, NextCursor: next}}, err
}
