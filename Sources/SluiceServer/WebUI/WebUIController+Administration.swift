import Foundation
import Hummingbird
import SluiceCore

extension WebUIController {
    func addAdministrationRoutes(to ui: RouterGroup<SluiceRequestContext>) {
        ui.get("admin/users", use: usersPage)
        ui.get("admin/groups", use: groupsPage)
        ui.get("admin/permissions", use: permissionsPage)
        ui.get("admin/api-keys", use: apiKeysPage)
        ui.get("admin/events", use: eventsPage)
        addAdministrationActions(to: ui)
    }

    /// `GET /ui/admin/users`: every user with their groups, and the "Create user" form. Needs Administer.
    @Sendable func usersPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        try await access.require(.administer, feed: nil, viewer: viewer)
        let groups = try await services.security.groups()
        let users = try await services.security.users().map { user -> [String: Any] in
            [
                "name": user.name, "displayName": user.displayName, "email": user.email,
                "groups": groups.filter { $0.members.contains { $0.caseInsensitiveCompare(user.name) == .orderedSame } }
                    .map(\.name).joined(separator: ", "),
                "createdAt": WebUIFormat.date(user.createdAt),
                "isSelf": user.name.caseInsensitiveCompare(viewer.userName ?? "") == .orderedSame,
            ]
        }
        return await page("users", title: "Users", data: ["users": users], active: "users")
    }

    /// `GET /ui/admin/groups`: every group with its members, add/remove member forms and "Create group". Needs
    /// Administer.
    @Sendable func groupsPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        let users = try await services.security.users().map(\.name)
        let groups = try await services.security.groups().map { group -> [String: Any] in
            [
                "name": group.name, "description": group.description,
                "members": group.members.map { ["user": $0, "group": group.name] },
            ]
        }
        return await page(
            "groups", title: "Groups", data: ["groups": groups, "allUsers": users], active: "groups")
    }

    /// `GET /ui/admin/permissions`: "Tasks / Permissions" — every permission and restriction, "add permission", and
    /// the anonymous access switch. Needs Administer.
    @Sendable func permissionsPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        let privileges = try await services.security.privileges()
        let rows = privileges.map { privilege -> [String: Any] in
            [
                "id": privilege.id, "principal": Self.describe(privilege.principal),
                "task": privilege.task.displayName, "feed": privilege.feed ?? "all feeds",
                "type": privilege.isRestriction ? "restriction" : "permission",
                "createdAt": WebUIFormat.date(privilege.createdAt), "createdBy": privilege.createdBy as Any?,
            ]
        }
        let anonymousEnabled = privileges.contains {
            $0.principal == .anonymous && $0.task == .viewDownload && $0.feed == nil && !$0.isRestriction
        }
        let names =
            try await services.security.users().map(\.name) + services.security.groups().map(\.name)
        return await page(
            "permissions", title: "Tasks / Permissions",
            data: [
                "privileges": rows, "anonymousEnabled": anonymousEnabled, "principalNames": names,
                "tasks": SecurityTask.allCases.map { ["value": $0.rawValue, "label": $0.displayName] },
                "feeds": try await services.metadata.feeds().map(\.name),
            ],
            active: "permissions")
    }

    static func describe(_ principal: Principal) -> String {
        switch principal {
        case .user(let name): "user \(name)"
        case .group(let name): "group \(name)"
        case .anonymous: "anonymous"
        case .authenticated: "every signed-in user"
        case .everyone: "everyone"
        }
    }

    /// `GET /ui/admin/api-keys`: administrators see every key; other signed-in users their personal keys. With the
    /// "create" form (feed, personal or system key; feeds, permissions, expiry, optional custom text).
    @Sendable func apiKeysPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await apiKeysView(created: nil)
    }

    /// The API keys page; `created` is the text of a key just made (shown this once).
    func apiKeysView(created: String?, flash: Flash? = nil) async throws -> Response {
        let viewer = WebUIRequest.viewer
        guard let userName = viewer.userName else {
            throw SluiceError(.unauthenticated, "Sign in to manage API keys.")
        }
        var keys = try await services.security.apiKeys()
        if !viewer.isAdministrator {
            keys = keys.filter {
                $0.kind == .personal && $0.userName?.caseInsensitiveCompare(userName) == .orderedSame
            }
        }
        let rows = keys.map { key -> [String: Any] in
            let scope: String =
                switch key.kind {
                case .feed:
                    key.tasks.map(\.displayName).joined(separator: ", ") + " on " + key.feeds.joined(separator: ", ")
                case .personal: "acts as \(key.userName ?? "?")"
                case .system: "everything"
                }
            return [
                "id": key.id, "displayName": key.displayName, "description": key.description,
                "kind": key.kind.rawValue, "scope": scope,
                "expires": key.expiresAt.map(WebUIFormat.date) ?? "never",
                "lastUsed": WebUIFormat.date(key.lastUsedAt), "createdAt": WebUIFormat.date(key.createdAt),
                "createdBy": key.createdBy as Any?,
            ]
        }
        var data: [String: Any] = ["keys": rows]
        if let created { data["created"] = ["key": created] }
        if viewer.isAdministrator {
            data["feeds"] = try await services.metadata.feeds().map(\.name)
            data["users"] = try await services.security.users().map(\.name)
        }
        return await page("api-keys", title: "API Keys", data: data, active: "api-keys", flash: flash)
    }

    /// `GET /ui/admin/events?kind=&before=`: the event log, newest first, 100 per page. Needs Administer.
    @Sendable func eventsPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        let query = request.uri.queryParameters
        let kind = query.get("kind").flatMap { $0.isEmpty ? nil : $0 }
        let before = query.get("before").flatMap { Int64($0) }
        let limit = 100
        let events = try await services.security.events(limit: limit, beforeID: before, kind: kind)
        let rows = events.map { event -> [String: Any] in
            [
                "at": WebUIFormat.date(event.at), "kind": event.kind, "actor": event.actor ?? "—",
                "subject": event.subject ?? "", "detail": event.detail, "remoteAddress": event.remoteAddress ?? "",
            ]
        }
        var older: String?
        if events.count == limit, let last = events.last {
            older = "/ui/admin/events?before=\(last.id)" + (kind.map { "&kind=\(WebUIFormat.urlComponent($0))" } ?? "")
        }
        return await page(
            "events", title: "Event Log", data: ["events": rows, "kind": kind as Any?, "older": older as Any?],
            active: "events")
    }
}
