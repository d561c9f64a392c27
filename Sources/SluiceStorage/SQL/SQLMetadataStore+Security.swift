import Foundation
import SQLKit
import SluiceCore

/// The ``SecurityStore`` part of the SQL store (tables of migration 4): `user_groups`, `group_members`, `privileges`,
/// `api_keys`, `security_events` and the one-row `security_revision`.
///
/// Every change is one write transaction that also bumps `security_revision` (user inserts and updates, written by
/// ``createUser(_:)`` and ``updateUser(_:)``, bump it through triggers). Group names compare case-insensitively
/// (`name_key` is the lowercased name) and keep the spelling they were created with; members are the users' stored
/// (lowercased) names. Privileges keep their principal's name as given and are matched case-insensitively. Ids of
/// privileges, keys and events come from `security_sequences` and are never reused.
extension SQLMetadataStore: SecurityStore {
    // MARK: Users

    /// Every user, ordered by (lowercased) name.
    public func users() async throws -> [User] {
        try await withStorageErrors("listing users") {
            try await self.database.select().column("*").from("users").orderBy("name").all()
                .map(Self.user(from:))
                .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        }
    }

    /// Deletes a user (matched case-insensitively) with its group memberships, the privileges naming it and its
    /// personal API keys, in one transaction. Returns false if there was no such user.
    public func deleteUser(named name: String) async throws -> Bool {
        let key = name.lowercased()
        return try await withStorageErrors("deleting user '\(name)'") {
            try await self.inWriteTransaction { database in
                let deleted = try await database.delete(from: "users").where("name", .equal, key).returning("name")
                    .all()
                guard !deleted.isEmpty else { return false }
                // Explicit as well as cascaded, so a database opened without foreign keys enforced stays clean.
                try await database.delete(from: "group_members").where("user_name", .equal, key).run()
                try await database.delete(from: "api_keys").where("user_name", .equal, key).run()
                try await database.delete(from: "privileges")
                    .where("principal_kind", .equal, Principal.user(key).kind)
                    .where("principal_key", .equal, key)
                    .run()
                try await Self.bumpSecurityRevision(in: database)
                return true
            }
        }
    }

    // MARK: Groups

    /// Creates a group with its members in one transaction. Throws `.invalidInput` for an empty name, `.conflict` if
    /// the name is taken (case-insensitively), `.notFound` if a member does not exist.
    public func createGroup(_ group: UserGroup) async throws {
        guard !group.name.isEmpty else { throw SluiceError.invalidInput("A group needs a name.") }
        try await withStorageErrors(
            "creating group '\(group.name)'", conflict: "A group named '\(group.name)' exists already.",
            foreignKey: Self.memberDeletedMeanwhile(group: group.name)
        ) {
            try await self.inWriteTransaction { database in
                try await database.insert(into: "user_groups")
                    .columns("name_key", "name", "description", "created_at")
                    .values(
                        SQLBind(group.name.lowercased()), SQLBind(group.name), SQLBind(group.description),
                        SQLBind(Self.milliseconds(group.createdAt))
                    )
                    .run()
                try await Self.writeMembers(
                    group.members, groupKey: group.name.lowercased(), group: group.name, in: database)
                try await Self.bumpSecurityRevision(in: database)
            }
        }
    }

    /// The group with this name (case-insensitive), with its members, or nil.
    public func group(named name: String) async throws -> UserGroup? {
        try await withStorageErrors("reading group '\(name)'") {
            try await Self.groups(
                from: self.selectGroups().where(
                    SQLColumn("name_key", table: "user_groups"), .equal, SQLBind(name.lowercased()))
            )
            .first
        }
    }

    /// Every group with its members, ordered by lowercased name.
    public func groups() async throws -> [UserGroup] {
        try await withStorageErrors("listing groups") {
            try await Self.groups(from: self.selectGroups())
        }
    }

    /// Replaces a group's description and members in one transaction (its name's spelling and creation time stay).
    /// Throws `.notFound` if the group or a member does not exist.
    public func updateGroup(_ group: UserGroup) async throws {
        let key = group.name.lowercased()
        try await withStorageErrors(
            "updating group '\(group.name)'", foreignKey: Self.memberDeletedMeanwhile(group: group.name)
        ) {
            try await self.inWriteTransaction { database in
                let updated = try await database.update("user_groups")
                    .set("description", to: group.description)
                    .where("name_key", .equal, key)
                    .returning("name")
                    .all()
                guard let stored = updated.first else {
                    throw SluiceError.notFound("There is no group named '\(group.name)'.")
                }
                try await database.delete(from: "group_members").where("group_key", .equal, key).run()
                try await Self.writeMembers(
                    group.members, groupKey: key, group: try stored.decode(column: "name", as: String.self),
                    in: database)
                try await Self.bumpSecurityRevision(in: database)
            }
        }
    }

    /// Deletes a group with its memberships and the privileges naming it, in one transaction. Returns false if there
    /// was no such group.
    public func deleteGroup(named name: String) async throws -> Bool {
        let key = name.lowercased()
        return try await withStorageErrors("deleting group '\(name)'") {
            try await self.inWriteTransaction { database in
                let deleted = try await database.delete(from: "user_groups").where("name_key", .equal, key)
                    .returning("name_key").all()
                guard !deleted.isEmpty else { return false }
                try await database.delete(from: "group_members").where("group_key", .equal, key).run()
                try await database.delete(from: "privileges")
                    .where("principal_kind", .equal, Principal.group(key).kind)
                    .where("principal_key", .equal, key)
                    .run()
                try await Self.bumpSecurityRevision(in: database)
                return true
            }
        }
    }

    /// The names of the groups `userName` (case-insensitive) belongs to, ordered by lowercased name.
    public func groups(ofUser userName: String) async throws -> [String] {
        try await withStorageErrors("listing the groups of user '\(userName)'") {
            try await self.database.select()
                .column(SQLColumn("name_key", table: "user_groups"))
                .column(SQLColumn("name", table: "user_groups"))
                .from("user_groups")
                .join(
                    "group_members", on: SQLColumn("name_key", table: "user_groups"), .equal,
                    SQLColumn("group_key", table: "group_members")
                )
                .where(SQLColumn("user_name", table: "group_members"), .equal, SQLBind(userName.lowercased()))
                .all()
                .map { row in
                    (
                        key: try row.decode(column: "name_key", as: String.self),
                        name: try row.decode(column: "name", as: String.self)
                    )
                }
                .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map(\.name)
        }
    }

    /// `user_groups` left-joined with their members: one statement, so a group and its members come from one state
    /// of the database.
    private func selectGroups() -> SQLSelectBuilder {
        database.select()
            .column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("user_groups")))
            .column(SQLColumn("user_name", table: "group_members"))
            .from("user_groups")
            .join(
                "group_members", method: SQLJoinMethod.left, on: SQLColumn("name_key", table: "user_groups"), .equal,
                SQLColumn("group_key", table: "group_members")
            )
            .orderBy(SQLColumn("name_key", table: "user_groups"))
            .orderBy(SQLColumn("user_name", table: "group_members"))
    }

    /// Folds the rows of ``selectGroups()`` into groups ordered by lowercased name, members in name order.
    private static func groups(from query: SQLSelectBuilder) async throws -> [UserGroup] {
        var keys: [String] = []
        var groups: [String: UserGroup] = [:]
        for row in try await query.all() {
            let key = try row.decode(column: "name_key", as: String.self)
            if groups[key] == nil {
                keys.append(key)
                groups[key] = UserGroup(
                    name: try row.decode(column: "name", as: String.self),
                    description: try row.decode(column: "description", as: String.self),
                    members: [],
                    createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
            }
            if let member = try nullableString(row, "user_name") {
                groups[key]?.members.append(member)
            }
        }
        return keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.compactMap { key in
            guard var group = groups[key] else { return nil }
            group.members.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return group
        }
    }

    /// Inserts a group's members (lowercased, each once) after checking that each user exists.
    private static func writeMembers(
        _ members: [String], groupKey: String, group: String, in database: any SQLDatabase
    ) async throws {
        var seen = Set<String>()
        let names = members.map { $0.lowercased() }.filter { seen.insert($0).inserted }
        guard !names.isEmpty else { return }
        let existing = Set(
            try await database.select().column("name").from("users").where("name", .in, names).all()
                .map { try $0.decode(column: "name", as: String.self) })
        if let missing = members.first(where: { !existing.contains($0.lowercased()) }) {
            throw SluiceError.notFound("Group '\(group)' names user '\(missing)', who does not exist.")
        }
        let insert = database.insert(into: "group_members").columns("group_key", "user_name")
        for name in names {
            insert.values(SQLBind(groupKey), SQLBind(name))
        }
        try await insert.run()
    }

    /// The message when the database refuses a membership because the user was deleted after it was checked.
    private static func memberDeletedMeanwhile(group: String) -> String {
        "A member of group '\(group)' was deleted while the group was being saved; check its members and retry."
    }

    // MARK: Privileges

    /// Every permission and restriction, ordered by id.
    public func privileges() async throws -> [Privilege] {
        try await withStorageErrors("listing privileges") {
            try await self.database.select().column("*").from("privileges").orderBy("id").all()
                .map(Self.privilege(from:))
        }
    }

    /// Adds a privilege in one transaction and returns it with its id; an identical one (same principal, compared
    /// case-insensitively, task, feed and kind) is returned instead of being duplicated.
    @discardableResult
    public func addPrivilege(_ privilege: Privilege) async throws -> Privilege {
        let principalKey = privilege.principal.name?.lowercased() ?? ""
        let feedKey = privilege.feed ?? ""
        return try await withStorageErrors("adding a privilege") {
            try await self.inWriteTransaction { database in
                let id = try await Self.nextSecurityID(of: "privileges", in: database)
                let inserted = try await database.insert(into: "privileges")
                    .columns(
                        "id", "principal_kind", "principal_name", "principal_key", "task", "feed", "feed_key",
                        "is_restriction", "created_at", "created_by"
                    )
                    .values(
                        SQLBind(id), SQLBind(privilege.principal.kind), Self.nullable(privilege.principal.name),
                        SQLBind(principalKey), SQLBind(privilege.task.rawValue), Self.nullable(privilege.feed),
                        SQLBind(feedKey), SQLBind(privilege.isRestriction),
                        SQLBind(Self.milliseconds(privilege.createdAt)), Self.nullable(privilege.createdBy)
                    )
                    .ignoringConflicts(with: ["principal_kind", "principal_key", "task", "feed_key", "is_restriction"])
                    .returning(SQLLiteral.all)
                    .all()
                if let row = inserted.first {
                    try await Self.bumpSecurityRevision(in: database)
                    return try Self.privilege(from: row)
                }
                let existing = try await database.select().column("*").from("privileges")
                    .where("principal_kind", .equal, privilege.principal.kind)
                    .where("principal_key", .equal, principalKey)
                    .where("task", .equal, privilege.task.rawValue)
                    .where("feed_key", .equal, feedKey)
                    .where("is_restriction", .equal, privilege.isRestriction)
                    .first()
                guard let existing else {
                    throw SluiceError(.storageFailure, "A privilege changed while it was being added; retry.")
                }
                return try Self.privilege(from: existing)
            }
        }
    }

    /// Removes a privilege by id in one transaction; returns it, or nil if there was none.
    @discardableResult
    public func removePrivilege(id: Int64) async throws -> Privilege? {
        try await withStorageErrors("removing privilege \(id)") {
            try await self.inWriteTransaction { database in
                guard
                    let row = try await database.delete(from: "privileges").where("id", .equal, id)
                        .returning(SQLLiteral.all).all().first
                else { return nil }
                try await Self.bumpSecurityRevision(in: database)
                return try Self.privilege(from: row)
            }
        }
    }

    static func privilege(from row: any SQLRow) throws -> Privilege {
        let kind = try row.decode(column: "principal_kind", as: String.self)
        let name = try nullableString(row, "principal_name")
        guard let principal = Principal(kind: kind, name: name) else {
            throw SluiceError(.storageFailure, "The database holds a privilege for an unknown principal '\(kind)'.")
        }
        let taskName = try row.decode(column: "task", as: String.self)
        guard let task = SecurityTask(rawValue: taskName) else {
            throw SluiceError(.storageFailure, "The database holds a privilege of unknown task '\(taskName)'.")
        }
        return Privilege(
            id: try row.decode(column: "id", as: Int64.self),
            principal: principal,
            task: task,
            feed: try nullableString(row, "feed"),
            isRestriction: try row.decode(column: "is_restriction", as: Bool.self),
            createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try nullableString(row, "created_by"))
    }

    // MARK: API keys

    /// Stores a key in one transaction and returns it with its id (its hash lowercased; a personal key's user name as
    /// stored, other kinds' user name dropped). Throws `.conflict` if a key with the same hash exists, `.invalidInput` for a personal key without a
    /// user, `.notFound` if a personal key's user does not exist.
    @discardableResult
    public func createAPIKey(_ key: APIKey) async throws -> APIKey {
        var stored = key
        stored.keyHash = key.keyHash.lowercased()
        if key.kind == .personal {
            guard let userName = key.userName, !userName.isEmpty else {
                throw SluiceError.invalidInput("A personal API key needs the user it acts as.")
            }
            stored.userName = userName.lowercased()
        } else {
            stored.userName = nil
        }
        let missingUser = "There is no user named '\(key.userName ?? "")'."
        return try await withStorageErrors(
            "creating API key '\(key.displayName)'", conflict: "An API key with this text exists already.",
            foreignKey: missingUser
        ) { [stored] in
            try await self.inWriteTransaction { database in
                if let userName = stored.userName {
                    let user = try await database.select().column("name").from("users")
                        .where("name", .equal, userName).first()
                    guard user != nil else { throw SluiceError.notFound(missingUser) }
                }
                let id = try await Self.nextSecurityID(of: "api_keys", in: database)
                let inserted = try await database.insert(into: "api_keys")
                    .columns(
                        "id", "kind", "display_name", "description", "key_hash", "feeds_json", "tasks_json",
                        "user_name",
                        "expires_at", "created_at", "created_by", "last_used_at"
                    )
                    .values(
                        SQLBind(id), SQLBind(stored.kind.rawValue), SQLBind(stored.displayName),
                        SQLBind(stored.description),
                        SQLBind(stored.keyHash), SQLBind(Self.jsonText(stored.feeds)),
                        SQLBind(Self.jsonText(stored.tasks.map(\.rawValue))), Self.nullable(stored.userName),
                        Self.nullable(stored.expiresAt.map(Self.milliseconds)),
                        SQLBind(Self.milliseconds(stored.createdAt)), Self.nullable(stored.createdBy),
                        Self.nullable(stored.lastUsedAt.map(Self.milliseconds))
                    )
                    .returning(SQLLiteral.all)
                    .all()
                guard let row = inserted.first else {
                    throw SluiceError(.storageFailure, "The database did not return the new API key.")
                }
                try await Self.bumpSecurityRevision(in: database)
                return try Self.apiKey(from: row)
            }
        }
    }

    /// The key whose hash is `hash` (compared in lowercase), or nil.
    public func apiKey(hash: String) async throws -> APIKey? {
        try await withStorageErrors("looking up an API key") {
            try await self.database.select().column("*").from("api_keys").where("key_hash", .equal, hash.lowercased())
                .first()
                .map(Self.apiKey(from:))
        }
    }

    /// The key with this id, or nil.
    public func apiKey(id: Int64) async throws -> APIKey? {
        try await withStorageErrors("reading API key \(id)") {
            try await self.database.select().column("*").from("api_keys").where("id", .equal, id)
                .first()
                .map(Self.apiKey(from:))
        }
    }

    /// Every key, ordered by id.
    public func apiKeys() async throws -> [APIKey] {
        try await withStorageErrors("listing API keys") {
            try await self.database.select().column("*").from("api_keys").orderBy("id").all()
                .map(Self.apiKey(from:))
        }
    }

    /// Deletes a key in one transaction; returns it, or nil if there was none.
    @discardableResult
    public func deleteAPIKey(id: Int64) async throws -> APIKey? {
        try await withStorageErrors("deleting API key \(id)") {
            try await self.inWriteTransaction { database in
                guard
                    let row = try await database.delete(from: "api_keys").where("id", .equal, id)
                        .returning(SQLLiteral.all).all().first
                else { return nil }
                try await Self.bumpSecurityRevision(in: database)
                return try Self.apiKey(from: row)
            }
        }
    }

    /// Sets a key's last use (not a change of the revision). Returns false if there is no such key.
    @discardableResult
    public func markAPIKeyUsed(id: Int64, at date: Date) async throws -> Bool {
        try await withStorageErrors("marking API key \(id) used") {
            try await self.inWriteTransaction { database in
                !(try await database.update("api_keys")
                    .set("last_used_at", to: Self.milliseconds(date))
                    .where("id", .equal, id)
                    .returning("id")
                    .all()
                    .isEmpty)
            }
        }
    }

    static func apiKey(from row: any SQLRow) throws -> APIKey {
        let kindName = try row.decode(column: "kind", as: String.self)
        guard let kind = APIKey.Kind(rawValue: kindName) else {
            throw SluiceError(.storageFailure, "The database holds an API key of unknown kind '\(kindName)'.")
        }
        let tasks = try stringArray(row.decode(column: "tasks_json", as: String.self), column: "tasks_json").map {
            name in
            guard let task = SecurityTask(rawValue: name) else {
                throw SluiceError(.storageFailure, "The database holds an API key with unknown task '\(name)'.")
            }
            return task
        }
        return APIKey(
            id: try row.decode(column: "id", as: Int64.self),
            kind: kind,
            displayName: try row.decode(column: "display_name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            keyHash: try row.decode(column: "key_hash", as: String.self),
            feeds: try stringArray(row.decode(column: "feeds_json", as: String.self), column: "feeds_json"),
            tasks: tasks,
            userName: try nullableString(row, "user_name"),
            expiresAt: try nullableInt64(row, "expires_at").map { date(milliseconds: $0) },
            createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try nullableString(row, "created_by"),
            lastUsedAt: try nullableInt64(row, "last_used_at").map { date(milliseconds: $0) })
    }

    // MARK: Event log

    /// Appends an event and returns it with its id.
    @discardableResult
    public func recordEvent(_ event: SecurityEvent) async throws -> SecurityEvent {
        try await withStorageErrors("recording a security event") {
            try await self.inWriteTransaction { database in
                let id = try await Self.nextSecurityID(of: "security_events", in: database)
                let inserted = try await database.insert(into: "security_events")
                    .columns("id", "kind", "actor", "subject", "detail", "remote_address", "at")
                    .values(
                        SQLBind(id), SQLBind(event.kind), Self.nullable(event.actor), Self.nullable(event.subject),
                        SQLBind(event.detail), Self.nullable(event.remoteAddress), SQLBind(Self.milliseconds(event.at))
                    )
                    .returning(SQLLiteral.all)
                    .all()
                guard let row = inserted.first else {
                    throw SluiceError(.storageFailure, "The database did not return the new security event.")
                }
                return try Self.securityEvent(from: row)
            }
        }
    }

    /// The newest events first (by id), at most `limit`, only those with an id below `beforeID` and of `kind` when
    /// given.
    public func events(limit: Int, beforeID: Int64?, kind: String?) async throws -> [SecurityEvent] {
        guard limit > 0 else { return [] }
        return try await withStorageErrors("listing security events") {
            let select = self.database.select().column("*").from("security_events")
            if let beforeID { select.where("id", .lessThan, beforeID) }
            if let kind { select.where("kind", .equal, kind) }
            return try await select.orderBy("id", .descending).limit(limit).all().map(Self.securityEvent(from:))
        }
    }

    static func securityEvent(from row: any SQLRow) throws -> SecurityEvent {
        SecurityEvent(
            id: try row.decode(column: "id", as: Int64.self),
            kind: try row.decode(column: "kind", as: String.self),
            actor: try nullableString(row, "actor"),
            subject: try nullableString(row, "subject"),
            detail: try row.decode(column: "detail", as: String.self),
            remoteAddress: try nullableString(row, "remote_address"),
            at: date(milliseconds: try row.decode(column: "at", as: Int64.self)))
    }

    // MARK: Revision

    /// The counter in `security_revision`: 0 on a new database, one more after every change of users, groups,
    /// memberships, privileges or keys.
    public func securityRevision() async throws -> Int64 {
        try await withStorageErrors("reading the security revision") {
            guard
                let row = try await self.database.select().column("revision").from("security_revision")
                    .where("id", .equal, Int64(1)).first()
            else {
                throw SluiceError(.storageFailure, "The database has no security revision row.")
            }
            return try row.decode(column: "revision", as: Int64.self)
        }
    }

    /// Adds one to the revision; called inside each write transaction that changes security data.
    static func bumpSecurityRevision(in database: any SQLDatabase) async throws {
        try await database.update("security_revision")
            .set("revision", to: SQLBinaryExpression(SQLColumn("revision"), .add, SQLLiteral.numeric("1")))
            .where("id", .equal, Int64(1))
            .run()
    }

    /// The next id of `table` (`privileges`, `api_keys` or `security_events`) from `security_sequences`: one more than
    /// any given before, even if that row was deleted. The update locks the sequence row until the transaction ends.
    static func nextSecurityID(of table: String, in database: any SQLDatabase) async throws -> Int64 {
        guard
            let row = try await database.update("security_sequences")
                .set("last_value", to: SQLBinaryExpression(SQLColumn("last_value"), .add, SQLLiteral.numeric("1")))
                .where("name", .equal, table)
                .returning("last_value")
                .first()
        else {
            throw SluiceError(.storageFailure, "The database has no id sequence for '\(table)'.")
        }
        return try row.decode(column: "last_value", as: Int64.self)
    }

    /// The statements of migration 4 that make inserts and updates of `users` bump the revision in their own
    /// transaction, for the dialect named `dialect` (SQLKit's `SQLDialect.name`).
    /// - Throws: `SluiceError(.storageFailure)` for a dialect without triggers written here.
    static func userRevisionTriggers(dialect: String) throws -> [String] {
        let bump = "UPDATE security_revision SET revision = revision + 1 WHERE id = 1;"
        switch dialect {
        case "sqlite":
            return ["INSERT", "UPDATE"].map { event in
                "CREATE TRIGGER users_\(event.lowercased())_bumps_security_revision AFTER \(event) ON users "
                    + "BEGIN \(bump) END"
            }
        case "postgresql":
            return [
                "CREATE FUNCTION sluice_bump_security_revision() RETURNS trigger LANGUAGE plpgsql AS "
                    + "$$ BEGIN \(bump) RETURN NULL; END $$",
                "CREATE TRIGGER users_bump_security_revision AFTER INSERT OR UPDATE ON users "
                    + "FOR EACH ROW EXECUTE FUNCTION sluice_bump_security_revision()",
            ]
        default:
            throw SluiceError(
                .storageFailure, "Migration 4 has no security revision triggers for the SQL dialect '\(dialect)'.")
        }
    }

    // MARK: Values

    private static func nullable<Value: Encodable & Sendable>(_ value: Value?) -> any SQLExpression {
        value.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null
    }

    private static func nullableString(_ row: any SQLRow, _ column: String) throws -> String? {
        try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self)
    }

    private static func nullableInt64(_ row: any SQLRow, _ column: String) throws -> Int64? {
        try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: Int64.self)
    }

    private static func jsonText(_ strings: [String]) -> String {
        String(decoding: JSONValue.array(strings.map(JSONValue.string)).compactJSON(), as: UTF8.self)
    }

    private static func stringArray(_ text: String, column: String) throws -> [String] {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(Array(text.utf8))
        } catch {
            throw SluiceError(.storageFailure, "The database column \(column) holds invalid JSON.", cause: error)
        }
        guard let strings = parsed.arrayValue?.compactMap(\.stringValue), strings.count == parsed.arrayValue?.count
        else {
            throw SluiceError(
                .storageFailure, "The database column \(column) holds JSON that is not a list of strings.")
        }
        return strings
    }
}
