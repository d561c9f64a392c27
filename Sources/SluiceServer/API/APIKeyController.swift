import Foundation
import Hummingbird
import Logging
import SluiceCore

/// The API key API under `/api/api-keys`, in ProGet's shapes: create, list, delete.
///
/// Creating a feed or system key, creating a personal key for someone else, and listing or deleting other people's
/// keys need the `administer` task; a signed-in user (password or session) may create, list and delete their own
/// personal keys. The key text is returned once, by `create`; nothing else ever returns it or its hash.
struct APIKeyController: Sendable {
    let services: SluiceServices

    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.post("create", use: create)
        group.get("list", use: list)
        group.post("delete", use: delete)
        group.post("delete/{id}", use: delete)
        group.delete("delete/{id}", use: delete)
    }

    /// `POST /api/api-keys/create` with `{"type":"feed"|"personal"|"system","displayName"?,"description"?,
    /// "feeds"?:[..],"permissions"?:["view","add","promote","delete"],"user"?,"expires"?,"key"?}` → 201 and the key's
    /// description plus `"key"`: the key text, shown only here.
    ///
    /// Feed keys need `feeds` (existing feeds) and take `permissions` (default `["view"]`; `add` means publish).
    /// Personal keys act as `user` (default: the caller). `expires` is an ISO 8601 instant in the future. `key` is a
    /// custom key text (letters, digits and `-`, 8 to 128 characters); without it one is generated.
    /// Throws `.invalidInput` (400) for an unknown type or permission, a missing or unknown feed, fields that do not
    /// apply to the type, a bad expiry or bad custom text; `.conflict` (409) when the custom text is taken;
    /// `.unauthenticated` (401) / `.forbidden` (403) when the caller may not create this key.
    @Sendable func create(request: Request, context: SluiceRequestContext) async throws -> Response {
        let fields = try await RequestFields.read(from: request)
        guard let typeText = try fields.string("type") else {
            throw SluiceError.invalidInput("'type' is required: feed, personal or system.")
        }
        guard let kind = APIKey.Kind(rawValue: typeText.lowercased()) else {
            throw SluiceError.invalidInput("Unknown key type '\(typeText)'; use feed, personal or system.")
        }
        let feedNames = try fields.stringList("feeds") ?? []
        let permissionNames = try fields.stringList("permissions")
        var userName = try fields.string("user")?.trimmingCharacters(in: .whitespaces)
        if userName?.isEmpty == true { userName = nil }

        var feeds: [String] = []
        var tasks: [SecurityTask] = []
        switch kind {
        case .feed:
            try await services.access.require(.administer, feed: nil, identity: context.identity)
            guard userName == nil else {
                throw SluiceError.invalidInput("'user' applies to personal keys only.")
            }
            feeds = try await existingFeeds(feedNames)
            tasks = try Self.tasks(fromPermissions: permissionNames ?? ["view"])
        case .personal:
            guard feedNames.isEmpty, permissionNames?.isEmpty ?? true else {
                throw SluiceError.invalidInput(
                    "'feeds' and 'permissions' apply to feed keys only; a personal key acts with its user's permissions."
                )
            }
            userName = try await personalKeyOwner(requested: userName, context: context)
        case .system:
            try await services.access.require(.administer, feed: nil, identity: context.identity)
            guard feedNames.isEmpty, permissionNames?.isEmpty ?? true, userName == nil else {
                throw SluiceError.invalidInput(
                    "'feeds', 'permissions' and 'user' do not apply to system keys, which administer everything.")
            }
        }
        let expiresAt = try Self.expiry(fields)
        let displayName = try fields.string("displayName")?.trimmingCharacters(in: .whitespaces)
        let key = APIKey(
            kind: kind,
            displayName: displayName.flatMap { $0.isEmpty ? nil : $0 }
                ?? Self.defaultDisplayName(kind: kind, feeds: feeds, user: userName),
            description: try fields.string("description") ?? "",
            keyHash: "", feeds: feeds, tasks: tasks, userName: userName, expiresAt: expiresAt,
            createdBy: context.identity.actorName)
        let (stored, text) = try await services.access.createAPIKey(key, customText: try fields.string("key"))
        await services.recordSecurityChange(
            SecurityEvent(kind: "api-key-created", subject: stored.displayName, detail: stored.eventDetail),
            context: context)
        var object = stored.apiFields
        object["key"] = .string(text)
        return JSONResponse.make(.object(object), status: .created)
    }

    /// `GET /api/api-keys/list` → `[{"id","type","displayName","description","feeds","permissions","user","expires",
    /// "createdAt","createdBy","lastUsedAt"}]` ordered by id: every key for an administrator, a signed-in user's own
    /// personal keys otherwise. Never the key text or its hash.
    /// Throws `.unauthenticated` (401) for anonymous callers, `.forbidden` (403) for keys that are not users.
    @Sendable func list(request: Request, context: SluiceRequestContext) async throws -> Response {
        let keys = try await services.security.apiKeys()
        if await services.access.allows(.administer, feed: nil, identity: context.identity) {
            return JSONResponse.make(.array(keys.map(\.apiJSON)))
        }
        guard let owner = Self.signedInUser(context.identity) else {
            try await services.access.require(.administer, feed: nil, identity: context.identity)
            return JSONResponse.make(.array([]))
        }
        let own = keys.filter { $0.kind == .personal && $0.userName?.lowercased() == owner.lowercased() }
        return JSONResponse.make(.array(own.map(\.apiJSON)))
    }

    /// `POST /api/api-keys/delete` with `{"id"}`, or `POST|DELETE /api/api-keys/delete/{id}` → `{"deleted": id}`.
    /// Throws `.invalidInput` (400) without a numeric id, `.notFound` (404) for an unknown id, `.unauthenticated`
    /// (401) / `.forbidden` (403) when the key is not the caller's own personal key and the caller does not
    /// administer.
    @Sendable func delete(request: Request, context: SluiceRequestContext) async throws -> Response {
        let id: Int64
        if let text = context.parameters.get("id") {
            guard let number = Int64(text) else {
                throw SluiceError.invalidInput("An API key id is a number (got '\(text)').")
            }
            id = number
        } else {
            let fields = try await RequestFields.read(from: request)
            guard let number = try fields.int("id") else {
                throw SluiceError.invalidInput("'id' is required: the id of the key (see /api/api-keys/list).")
            }
            id = Int64(number)
        }
        let isAdministrator = await services.access.allows(.administer, feed: nil, identity: context.identity)
        let key = try await services.security.apiKey(id: id)
        if !isAdministrator {
            let owner = Self.signedInUser(context.identity)
            let ownsKey =
                key.map { $0.kind == .personal && owner != nil && $0.userName?.lowercased() == owner?.lowercased() }
                ?? false
            if !ownsKey {
                // Anonymous → 401, anyone else → 403 (whether or not the id exists, so ids cannot be probed).
                try await services.access.require(.administer, feed: nil, identity: context.identity)
            }
        }
        guard let deleted = try await services.security.deleteAPIKey(id: id) else {
            throw SluiceError.notFound("There is no API key with id \(id).")
        }
        await services.recordSecurityChange(
            SecurityEvent(kind: "api-key-deleted", subject: deleted.displayName, detail: deleted.eventDetail),
            context: context)
        return JSONResponse.make(.object(["deleted": .int(id)]))
    }

    // MARK: Helpers

    /// The user a personal key is for: the caller when `requested` is nil or the caller; anyone else needs
    /// `administer`, and the user must exist.
    private func personalKeyOwner(requested: String?, context: SluiceRequestContext) async throws -> String {
        // A key made with a key would outlive its maker's intent: only a password or session sign-in counts here.
        let caller = context.identity.isPasswordUser ? context.identity.userName : nil
        let target = requested ?? caller
        guard let target else {
            // Not a signed-in user (anonymous, or a key that is not personal): only an administrator may go on, and
            // then must name the user.
            try await services.access.require(.administer, feed: nil, identity: context.identity)
            throw SluiceError.invalidInput("'user' is required: the user the personal key acts as.")
        }
        if caller?.lowercased() != target.lowercased() {
            try await services.access.require(.administer, feed: nil, identity: context.identity)
        }
        guard let user = try await services.metadata.user(named: target) else {
            throw SluiceError.invalidInput("There is no user named '\(target)'.")
        }
        return user.name
    }

    /// The feeds named, which must exist; in the order given, without duplicates.
    /// - Throws: `SluiceError.invalidInput` when none is named or one does not exist.
    private func existingFeeds(_ names: [String]) async throws -> [String] {
        guard !names.isEmpty else {
            throw SluiceError.invalidInput("A feed key needs 'feeds': the feeds it opens, e.g. [\"approved-conda\"].")
        }
        var result: [String] = []
        for name in names.map({ $0.trimmingCharacters(in: .whitespaces) }) where !result.contains(name) {
            guard try await services.metadata.feed(named: name) != nil else {
                throw SluiceError.invalidInput("'feeds': there is no feed named '\(name)'.")
            }
            result.append(name)
        }
        return result
    }

    /// The user a request is signed in as by password, session or a personal key; nil for anonymous and for feed
    /// and system keys.
    static func signedInUser(_ identity: Identity) -> String? {
        identity.userName
    }

    /// Feed key tasks from ProGet's permission names: `view`, `add` (publish), `promote`, `delete`.
    /// - Throws: `SluiceError.invalidInput` for another name or an empty list.
    static func tasks(fromPermissions names: [String]) throws -> [SecurityTask] {
        var tasks: [SecurityTask] = []
        for name in names {
            let task: SecurityTask
            switch name.trimmingCharacters(in: .whitespaces).lowercased() {
            case "view", "view_download", "download": task = .viewDownload
            case "add", "publish", "upload": task = .publishPackages
            case "promote": task = .promotePackages
            case "delete": task = .deletePackages
            default:
                throw SluiceError.invalidInput(
                    "Unknown permission '\(name)' for a feed key; use any of view, add, promote, delete.")
            }
            if !tasks.contains(task) { tasks.append(task) }
        }
        guard !tasks.isEmpty else {
            throw SluiceError.invalidInput("A feed key needs at least one permission: view, add, promote or delete.")
        }
        return tasks
    }

    /// ProGet's name of a feed key task (`add` for publish).
    static func permissionName(_ task: SecurityTask) -> String {
        switch task {
        case .viewDownload: "view"
        case .publishPackages: "add"
        case .promotePackages: "promote"
        case .deletePackages: "delete"
        case .manageFeed: "manage-feed"
        case .administer: "administer"
        }
    }

    /// The `expires` field: an ISO 8601 instant (`2027-01-31T12:00:00Z`, fractional seconds allowed) or a date
    /// (`2027-01-31`, midnight UTC), in the future; nil when absent.
    /// - Throws: `SluiceError.invalidInput` otherwise.
    static func expiry(_ fields: RequestFields) throws -> Date? {
        guard let text = try fields.string("expires")?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return nil
        }
        guard let date = parseInstant(text) else {
            throw SluiceError.invalidInput(
                "'expires' must be an ISO 8601 date or instant, e.g. 2027-01-31 or 2027-01-31T12:00:00Z (got '\(text)')."
            )
        }
        guard date > Date() else {
            throw SluiceError.invalidInput("'expires' is in the past (\(text)); give a future instant or leave it out.")
        }
        return date
    }

    static func parseInstant(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle().year().month().day())
    }

    static func defaultDisplayName(kind: APIKey.Kind, feeds: [String], user: String?) -> String {
        switch kind {
        case .feed: "Feed key for \(feeds.joined(separator: ", "))"
        case .personal: "Personal key of \(user ?? "?")"
        case .system: "System key"
        }
    }
}

extension APIKey {
    /// The key as `/api/api-keys/list` returns it: `{"id","type","displayName","description","feeds","permissions",
    /// "user","expires","createdAt","createdBy","lastUsedAt"}`. Never the key text or its hash.
    var apiFields: [String: JSONValue] {
        [
            "id": .int(id),
            "type": .string(kind.rawValue),
            "displayName": .string(displayName),
            "description": .string(description),
            "feeds": .array(feeds.map(JSONValue.string)),
            "permissions": .array(tasks.map { .string(APIKeyController.permissionName($0)) }),
            "user": userName.map(JSONValue.string) ?? .null,
            "expires": expiresAt.map(JSONResponse.timestamp) ?? .null,
            "createdAt": JSONResponse.timestamp(createdAt),
            "createdBy": createdBy.map(JSONValue.string) ?? .null,
            "lastUsedAt": lastUsedAt.map(JSONResponse.timestamp) ?? .null,
        ]
    }

    /// ``apiFields`` as a JSON object.
    var apiJSON: JSONValue { .object(apiFields) }

    /// What the event log says about the key (never its text or hash).
    var eventDetail: String {
        var parts = ["#\(id)", "\(kind.rawValue) key"]
        if !feeds.isEmpty { parts.append("feeds: \(feeds.joined(separator: ", "))") }
        if !tasks.isEmpty {
            parts.append("permissions: \(tasks.map(APIKeyController.permissionName).joined(separator: ", "))")
        }
        if let userName { parts.append("user: \(userName)") }
        if let expiresAt { parts.append("expires: \(expiresAt.formatted(Date.ISO8601FormatStyle()))") }
        return parts.joined(separator: "; ")
    }
}
