import Foundation
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOPosix
import SluiceCore

/// The security management API under `/api/security`: users, groups and their members, privileges (permissions and
/// restrictions) and the anonymous-access switch.
///
/// Every route requires the `administer` task on all feeds (checked here, through ``AccessControl/require(_:feed:identity:)``,
/// so an anonymous caller gets 401 and a signed-in one without the task 403). Every change records a
/// ``SecurityEvent`` (never a password or a key) and calls ``AccessControl/securityChanged()``.
struct SecurityManagementController: Sendable {
    let services: SluiceServices

    /// The shortest password accepted for a user.
    static let minimumPasswordLength = 8
    /// The longest password accepted (bcrypt only reads the first 72 bytes).
    static let maximumPasswordBytes = 72

    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.get("users/list", use: listUsers)
        group.post("users/create", use: createUser)
        group.post("users/update/{name}", use: updateUser)
        group.post("users/delete/{name}", use: deleteUser)
        group.delete("users/delete/{name}", use: deleteUser)

        group.get("groups/list", use: listGroups)
        group.post("groups/create", use: createGroup)
        group.post("groups/update/{name}", use: updateGroup)
        group.post("groups/add-member/{name}", use: addMember)
        group.post("groups/remove-member/{name}", use: removeMember)
        group.post("groups/delete/{name}", use: deleteGroup)
        group.delete("groups/delete/{name}", use: deleteGroup)

        group.get("privileges/list", use: listPrivileges)
        group.post("privileges/add", use: addPrivilege)
        group.post("privileges/delete/{id}", use: deletePrivilege)
        group.delete("privileges/delete/{id}", use: deletePrivilege)

        group.get("anonymous", use: anonymousStatus)
        group.post("anonymous", use: setAnonymous)
    }

    // MARK: Users

    /// `GET /api/security/users/list` → `[{"name","displayName","email","createdAt","groups":[..]}]`, ordered by name.
    /// Throws `.unauthenticated` (401) / `.forbidden` (403) without `administer`.
    @Sendable func listUsers(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let users = try await services.security.users()
        let groups = try await services.security.groups()
        return JSONResponse.make(.array(users.map { $0.apiJSON(groups: Self.groupNames(of: $0.name, in: groups)) }))
    }

    /// `POST /api/security/users/create` with `{"name","password","displayName"?,"email"?}` → 201 and the user.
    /// Throws `.invalidInput` (400) for a bad name or a password shorter than 8 characters, `.conflict` (409) when the
    /// name is taken.
    @Sendable func createUser(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        guard let name = try fields.string("name")?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw SluiceError.invalidInput("'name' is required.")
        }
        try Self.validateUserName(name)
        guard let password = try fields.string("password") else {
            throw SluiceError.invalidInput("'password' is required.")
        }
        try Self.validatePassword(password)
        if try await services.metadata.user(named: name) != nil {
            throw SluiceError.conflict("A user named '\(name)' exists already.")
        }
        let hash = try await Self.hashPassword(password)
        let user = User(
            name: name, displayName: try fields.string("displayName") ?? "", email: try fields.string("email") ?? "",
            passwordHash: hash)
        try await services.metadata.createUser(user)
        let stored = try await services.metadata.user(named: name) ?? user
        await changed(context, SecurityEvent(kind: "user-created", subject: stored.name, detail: "User created."))
        return JSONResponse.make(stored.apiJSON(groups: []), status: .created)
    }

    /// `POST /api/security/users/update/{name}` with any of `{"password","displayName","email"}` → the user.
    /// Throws `.notFound` (404) for an unknown user, `.invalidInput` (400) for a weak password or a rename.
    @Sendable func updateUser(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let name = try Self.pathName(context, "name")
        guard var user = try await services.metadata.user(named: name) else {
            throw SluiceError.notFound("There is no user named '\(name)'.")
        }
        let fields = try await RequestFields.read(from: request, allowEmpty: true)
        if let newName = try fields.string("name"), newName.lowercased() != user.name.lowercased() {
            throw SluiceError.invalidInput("A user cannot be renamed; create a new user instead.")
        }
        var changes: [String] = []
        if let displayName = try fields.string("displayName") {
            user.displayName = displayName
            changes.append("displayName")
        }
        if let email = try fields.string("email") {
            user.email = email
            changes.append("email")
        }
        if let password = try fields.string("password") {
            try Self.validatePassword(password)
            user.passwordHash = try await Self.hashPassword(password)
            changes.append("password")
        }
        try await services.metadata.updateUser(user)
        let stored = try await services.metadata.user(named: name) ?? user
        if !changes.isEmpty {
            await changed(
                context,
                SecurityEvent(
                    kind: "user-updated", subject: stored.name,
                    detail: "Changed: \(changes.joined(separator: ", "))."))
        }
        let groups = try await services.security.groups(ofUser: stored.name)
        return JSONResponse.make(stored.apiJSON(groups: groups))
    }

    /// `POST` or `DELETE /api/security/users/delete/{name}` → `{"deleted": name}`; also removes the user's group
    /// memberships, privileges and personal API keys. Throws `.notFound` (404) for an unknown user, `.invalidInput`
    /// (400) when a user tries to delete themself.
    @Sendable func deleteUser(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let name = try Self.pathName(context, "name")
        if case .user(let caller, _, _) = context.identity, caller.lowercased() == name.lowercased() {
            throw SluiceError.invalidInput("You cannot delete the user you are signed in as.")
        }
        guard try await services.security.deleteUser(named: name) else {
            throw SluiceError.notFound("There is no user named '\(name)'.")
        }
        await changed(context, SecurityEvent(kind: "user-deleted", subject: name, detail: "User deleted."))
        return JSONResponse.make(.object(["deleted": .string(name)]))
    }

    // MARK: Groups

    /// `GET /api/security/groups/list` → `[{"name","description","members":[..],"createdAt"}]`, ordered by name.
    @Sendable func listGroups(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        return JSONResponse.make(.array(try await services.security.groups().map(\.apiJSON)))
    }

    /// `POST /api/security/groups/create` with `{"name","description"?,"members"?:[user names]}` → 201 and the group.
    /// Throws `.invalidInput` (400) for a bad name or a member that is not a user, `.conflict` (409) when the name is
    /// taken.
    @Sendable func createGroup(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        guard let name = try fields.string("name")?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw SluiceError.invalidInput("'name' is required.")
        }
        try Self.validateGroupName(name)
        if try await services.security.group(named: name) != nil {
            throw SluiceError.conflict("A group named '\(name)' exists already.")
        }
        let members = try await existingUsers(try fields.stringList("members") ?? [], field: "members")
        let group = UserGroup(name: name, description: try fields.string("description") ?? "", members: members)
        try await services.security.createGroup(group)
        let stored = try await services.security.group(named: name) ?? group
        await changed(
            context,
            SecurityEvent(
                kind: "group-created", subject: stored.name, detail: Self.membersDetail("Group created", stored)))
        return JSONResponse.make(stored.apiJSON, status: .created)
    }

    /// `POST /api/security/groups/update/{name}` with `{"description"?,"members"?}` (`members` replaces the list) →
    /// the group. Throws `.notFound` (404) for an unknown group, `.invalidInput` (400) for a member that is not a user
    /// or a rename.
    @Sendable func updateGroup(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        var group = try await existingGroup(context)
        let fields = try await RequestFields.read(from: request, allowEmpty: true)
        if let newName = try fields.string("name"), newName.lowercased() != group.name.lowercased() {
            throw SluiceError.invalidInput("A group cannot be renamed; create a new group instead.")
        }
        if let description = try fields.string("description") { group.description = description }
        if fields.contains("members") {
            group.members = try await existingUsers(try fields.stringList("members") ?? [], field: "members")
        }
        return try await save(group, context: context, detail: "Group updated")
    }

    /// `POST /api/security/groups/add-member/{name}` with `{"user"}` → the group (adding a member twice changes
    /// nothing). Throws `.notFound` (404) for an unknown group, `.invalidInput` (400) when `user` is missing or not a
    /// user.
    @Sendable func addMember(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        var group = try await existingGroup(context)
        let user = try await memberField(request)
        let stored = try await existingUsers([user], field: "user")[0]
        guard !group.members.contains(where: { $0.lowercased() == stored.lowercased() }) else {
            return JSONResponse.make(group.apiJSON)
        }
        group.members.append(stored)
        return try await save(group, context: context, detail: "Added member \(stored)")
    }

    /// `POST /api/security/groups/remove-member/{name}` with `{"user"}` → the group. Throws `.notFound` (404) for an
    /// unknown group or a user that is not a member, `.invalidInput` (400) when `user` is missing.
    @Sendable func removeMember(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        var group = try await existingGroup(context)
        let user = try await memberField(request)
        guard let index = group.members.firstIndex(where: { $0.lowercased() == user.lowercased() }) else {
            throw SluiceError.notFound("'\(user)' is not a member of the group '\(group.name)'.")
        }
        let removed = group.members.remove(at: index)
        return try await save(group, context: context, detail: "Removed member \(removed)")
    }

    /// `POST` or `DELETE /api/security/groups/delete/{name}` → `{"deleted": name}`; also removes the group's
    /// privileges. Throws `.notFound` (404).
    @Sendable func deleteGroup(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let name = try Self.pathName(context, "name")
        guard try await services.security.deleteGroup(named: name) else {
            throw SluiceError.notFound("There is no group named '\(name)'.")
        }
        await changed(context, SecurityEvent(kind: "group-deleted", subject: name, detail: "Group deleted."))
        return JSONResponse.make(.object(["deleted": .string(name)]))
    }

    // MARK: Privileges

    /// `GET /api/security/privileges/list` → `[{"id","principal":{"kind","name"},"task","taskName","feed"|null,
    /// "type":"permission"|"restriction","createdAt","createdBy"}]`, ordered by id.
    @Sendable func listPrivileges(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        return JSONResponse.make(.array(try await services.security.privileges().map(\.apiJSON)))
    }

    /// `POST /api/security/privileges/add` with `{"principal":{"kind","name"?},"task","feed"?,"type"?}` → 201 and the
    /// privilege (an identical one is returned instead of being duplicated). `task` is a task id (`view`, `publish`,
    /// `promote`, `delete`, `manage-feed`, `administer`) or its display name ("Promote Packages"); `feed` absent or
    /// null means all feeds; `type` is `permission` (default) or `restriction`.
    /// Throws `.invalidInput` (400) for an unknown task, principal kind or type, a user or group that does not exist,
    /// or a feed that does not exist.
    @Sendable func addPrivilege(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        let principal = try await principalField(fields)
        guard let taskText = try fields.string("task") else {
            throw SluiceError.invalidInput("'task' is required: one of \(Self.taskChoices).")
        }
        guard let task = Self.task(named: taskText) else {
            throw SluiceError.invalidInput("Unknown task '\(taskText)'; use one of \(Self.taskChoices).")
        }
        var feed: String?
        if let name = try fields.string("feed") {
            guard try await services.metadata.feed(named: name) != nil else {
                throw SluiceError.invalidInput(
                    "There is no feed named '\(name)'; leave 'feed' out (or null) for all feeds.")
            }
            feed = name
        }
        let type = try fields.string("type")?.lowercased() ?? "permission"
        guard type == "permission" || type == "restriction" else {
            throw SluiceError.invalidInput("'type' must be 'permission' or 'restriction' (got '\(type)').")
        }
        let privilege = try await services.security.addPrivilege(
            Privilege(
                principal: principal, task: task, feed: feed, isRestriction: type == "restriction",
                createdBy: context.identity.actorName))
        await changed(
            context,
            SecurityEvent(
                kind: "privilege-added", subject: privilege.summary, detail: "Privilege #\(privilege.id) added."))
        return JSONResponse.make(privilege.apiJSON, status: .created)
    }

    /// `POST` or `DELETE /api/security/privileges/delete/{id}` → `{"deleted": id}`. Throws `.invalidInput` (400) for
    /// an id that is not a number, `.notFound` (404) for an unknown id.
    @Sendable func deletePrivilege(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let text = try Self.pathName(context, "id")
        guard let id = Int64(text) else {
            throw SluiceError.invalidInput("A privilege id is a number (got '\(text)').")
        }
        guard let removed = try await services.security.removePrivilege(id: id) else {
            throw SluiceError.notFound("There is no privilege with id \(id).")
        }
        await changed(
            context,
            SecurityEvent(kind: "privilege-removed", subject: removed.summary, detail: "Privilege #\(id) removed."))
        return JSONResponse.make(.object(["deleted": .int(id)]))
    }

    // MARK: Anonymous access

    /// `GET /api/security/anonymous` → `{"enabled": bool}`: whether anonymous callers may View & Download every feed
    /// (the (anonymous, view, all feeds) permission exists).
    @Sendable func anonymousStatus(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let enabled = try await anonymousPermissions().isEmpty == false
        return JSONResponse.make(.object(["enabled": .bool(enabled)]))
    }

    /// `POST /api/security/anonymous` with `{"enabled": bool}` → `{"enabled": bool}`: adds or removes the (anonymous,
    /// view, all feeds) permission. Removing it makes every feed private unless other privileges open some.
    /// Throws `.invalidInput` (400) when `enabled` is missing.
    @Sendable func setAnonymous(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        guard let enabled = try fields.bool("enabled") else {
            throw SluiceError.invalidInput("'enabled' is required: true or false.")
        }
        let existing = try await anonymousPermissions()
        if enabled, existing.isEmpty {
            try await services.security.addPrivilege(
                Privilege(principal: .anonymous, task: .viewDownload, createdBy: context.identity.actorName))
        } else if !enabled {
            for privilege in existing {
                try await services.security.removePrivilege(id: privilege.id)
            }
        }
        if enabled == existing.isEmpty {
            await changed(
                context,
                SecurityEvent(
                    kind: "anonymous-access-changed", subject: "anonymous",
                    detail: enabled
                        ? "Anonymous View & Download on all feeds enabled."
                        : "Anonymous View & Download on all feeds disabled."))
        }
        return JSONResponse.make(.object(["enabled": .bool(enabled)]))
    }

    // MARK: Helpers

    /// The permissions that make up "anonymous access": (anonymous, view, all feeds, permission).
    private func anonymousPermissions() async throws -> [Privilege] {
        try await services.security.privileges().filter {
            $0.principal == .anonymous && $0.task == .viewDownload && $0.feed == nil && !$0.isRestriction
        }
    }

    private func requireAdminister(_ context: SluiceRequestContext) async throws {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
    }

    /// Records `event` (with the caller as actor and the client address) and drops the security caches.
    private func changed(_ context: SluiceRequestContext, _ event: SecurityEvent) async {
        await services.recordSecurityChange(event, context: context)
    }

    private func existingGroup(_ context: SluiceRequestContext) async throws -> UserGroup {
        let name = try Self.pathName(context, "name")
        guard let group = try await services.security.group(named: name) else {
            throw SluiceError.notFound("There is no group named '\(name)'.")
        }
        return group
    }

    /// Stores a changed group, records a `group-changed` event and answers with the group.
    private func save(_ group: UserGroup, context: SluiceRequestContext, detail: String) async throws -> Response {
        try await services.security.updateGroup(group)
        let stored = try await services.security.group(named: group.name) ?? group
        await changed(
            context,
            SecurityEvent(kind: "group-changed", subject: stored.name, detail: Self.membersDetail(detail, stored)))
        return JSONResponse.make(stored.apiJSON)
    }

    /// The stored names of `names` (users must exist), without duplicates, in the order given.
    /// - Throws: `SluiceError.invalidInput` naming the first name that is not a user.
    private func existingUsers(_ names: [String], field: String) async throws -> [String] {
        var result: [String] = []
        for raw in names {
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let user = try await services.metadata.user(named: name) else {
                throw SluiceError.invalidInput("'\(field)': there is no user named '\(name)'.")
            }
            if !result.contains(where: { $0.lowercased() == user.name.lowercased() }) {
                result.append(user.name)
            }
        }
        return result
    }

    /// The `user` field of an add/remove-member body.
    private func memberField(_ request: Request) async throws -> String {
        let fields = try await RequestFields.read(from: request)
        guard let user = try fields.string("user")?.trimmingCharacters(in: .whitespaces), !user.isEmpty else {
            throw SluiceError.invalidInput("'user' is required: the name of the user.")
        }
        return user
    }

    /// The `principal` field: `{"kind","name"?}`; users and groups must exist.
    private func principalField(_ fields: RequestFields) async throws -> Principal {
        guard let object = fields.values["principal"]?.objectValue else {
            throw SluiceError.invalidInput(
                "'principal' is required: {\"kind\": \"user\"|\"group\", \"name\": ...} or {\"kind\": \"anonymous\"|\"authenticated\"|\"everyone\"}."
            )
        }
        guard let kind = object["kind"]?.stringValue else {
            throw SluiceError.invalidInput(
                "'principal.kind' is required: user, group, anonymous, authenticated or everyone.")
        }
        let name = object["name"]?.stringValue?.trimmingCharacters(in: .whitespaces)
        guard let principal = Principal(kind: kind, name: name) else {
            if ["user", "group"].contains(kind.lowercased()) {
                throw SluiceError.invalidInput("A principal of kind '\(kind)' needs a 'name'.")
            }
            throw SluiceError.invalidInput(
                "Unknown principal kind '\(kind)'; use user, group, anonymous, authenticated or everyone.")
        }
        switch principal {
        case .user(let name):
            guard let user = try await services.metadata.user(named: name) else {
                throw SluiceError.invalidInput("There is no user named '\(name)'.")
            }
            return .user(user.name)
        case .group(let name):
            guard let group = try await services.security.group(named: name) else {
                throw SluiceError.invalidInput("There is no group named '\(name)'.")
            }
            return .group(group.name)
        case .anonymous, .authenticated, .everyone:
            return principal
        }
    }

    /// The task named by an id (`promote`), a display name (`Promote Packages`) or `add` (= publish), any case.
    static func task(named text: String) -> SecurityTask? {
        let folded = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let task = SecurityTask(rawValue: folded) { return task }
        if folded == "add" { return .publishPackages }
        return SecurityTask.allCases.first { $0.displayName.lowercased() == folded }
    }

    static let taskChoices = SecurityTask.allCases.map(\.rawValue).joined(separator: ", ")

    /// A path parameter, percent-decoded (group names may hold spaces: `Network%20Engineers`).
    static func pathName(_ context: SluiceRequestContext, _ key: String) throws -> String {
        let raw = try context.parameters.require(key)
        guard let decoded = raw.removingPercentEncoding else {
            throw SluiceError.invalidInput("The path holds a badly percent-encoded '\(key)'.")
        }
        return decoded
    }

    /// User names: 1 to 64 letters, digits, `.`, `_`, `-` and `@`; `api` is reserved (Basic `api:<key>` means a key).
    /// - Throws: `SluiceError.invalidInput`.
    static func validateUserName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw SluiceError.invalidInput(
                "A user name is 1 to 64 letters, digits, '.', '_', '-' or '@' (got '\(name)').")
        }
        guard name.lowercased() != "api" else {
            throw SluiceError.invalidInput(
                "'api' is reserved: HTTP Basic with the user name 'api' carries an API key as the password.")
        }
    }

    /// Group names: 1 to 100 characters, no control characters, no `/`, not only spaces.
    /// - Throws: `SluiceError.invalidInput`.
    static func validateGroupName(_ name: String) throws {
        guard (1...100).contains(name.count),
            !name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) || $0 == "/" })
        else {
            throw SluiceError.invalidInput(
                "A group name is 1 to 100 characters without '/' or control characters (got '\(name)').")
        }
    }

    /// Passwords: at least 8 characters, at most 72 bytes (bcrypt's limit).
    /// - Throws: `SluiceError.invalidInput` (the message never repeats the password).
    static func validatePassword(_ password: String) throws {
        guard password.count >= minimumPasswordLength else {
            throw SluiceError.invalidInput(
                "The password is too weak: it needs at least \(minimumPasswordLength) characters.")
        }
        guard password.utf8.count <= maximumPasswordBytes else {
            throw SluiceError.invalidInput("The password is too long: at most \(maximumPasswordBytes) bytes.")
        }
    }

    /// A bcrypt hash of `password` (cost ``AdminBootstrap/bcryptCost``), computed off the event loops.
    static func hashPassword(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: AdminBootstrap.bcryptCost) }
    }

    /// The names of the groups in `groups` that have `user` as a member.
    static func groupNames(of user: String, in groups: [UserGroup]) -> [String] {
        groups.filter { $0.members.contains { $0.lowercased() == user.lowercased() } }.map(\.name)
    }

    static func membersDetail(_ prefix: String, _ group: UserGroup) -> String {
        "\(prefix); members: \(group.members.isEmpty ? "none" : group.members.joined(separator: ", "))."
    }
}

extension SluiceServices {
    /// Records a security change in the event log (actor = the caller, with the client address) and tells
    /// ``AccessControl`` that users, groups, privileges or keys changed.
    func recordSecurityChange(_ event: SecurityEvent, context: SluiceRequestContext) async {
        var event = event
        if event.actor == nil { event.actor = context.identity.actorName }
        if event.remoteAddress == nil { event.remoteAddress = context.remoteAddress }
        await access.securityChanged()
        await access.record(event)
        context.logger.info(
            "Security change",
            metadata: [
                "event": "\(event.kind)", "subject": "\(event.subject ?? "-")", "actor": "\(event.actor ?? "-")",
            ])
    }
}

extension User {
    /// The user as the security API returns it: `{"name","displayName","email","createdAt","groups"}` (never the
    /// password hash).
    func apiJSON(groups: [String]) -> JSONValue {
        .object([
            "name": .string(name),
            "displayName": .string(displayName),
            "email": .string(email),
            "createdAt": JSONResponse.timestamp(createdAt),
            "groups": .array(groups.map(JSONValue.string)),
        ])
    }
}

extension UserGroup {
    /// The group as the security API returns it: `{"name","description","members","createdAt"}`.
    var apiJSON: JSONValue {
        .object([
            "name": .string(name),
            "description": .string(description),
            "members": .array(members.map(JSONValue.string)),
            "createdAt": JSONResponse.timestamp(createdAt),
        ])
    }
}

extension Principal {
    /// `{"kind","name"}` (name only for users and groups).
    var apiJSON: JSONValue {
        var object: [String: JSONValue] = ["kind": .string(kind)]
        if let name { object["name"] = .string(name) }
        return .object(object)
    }

    /// `user Alice`, `group Network Engineers`, `anonymous`, ...
    var summary: String {
        name.map { "\(kind) \($0)" } ?? kind
    }
}

extension Privilege {
    /// The privilege as the security API returns it: `{"id","principal","task","taskName","feed","type","createdAt",
    /// "createdBy"}`.
    var apiJSON: JSONValue {
        .object([
            "id": .int(id),
            "principal": principal.apiJSON,
            "task": .string(task.rawValue),
            "taskName": .string(task.displayName),
            "feed": feed.map(JSONValue.string) ?? .null,
            "type": .string(isRestriction ? "restriction" : "permission"),
            "createdAt": JSONResponse.timestamp(createdAt),
            "createdBy": createdBy.map(JSONValue.string) ?? .null,
        ])
    }

    /// A one-line description for the event log, e.g. `permission Promote Packages on unapproved-conda for group
    /// Network Engineers`.
    var summary: String {
        "\(isRestriction ? "restriction" : "permission") \(task.displayName) on \(feed ?? "all feeds") for \(principal.summary)"
    }
}
