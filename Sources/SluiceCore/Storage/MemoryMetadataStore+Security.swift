import Foundation

/// The security data of a ``MemoryMetadataStore``: groups, privileges, API keys, the event log and the revision.
struct MemorySecurityState: Sendable {
    /// Groups by lowercased name; each keeps its name as given and its members as stored (lowercased) user names.
    var groupsByKey: [String: UserGroup] = [:]
    /// Every privilege, in id order.
    var privileges: [Privilege] = []
    /// Every API key by id.
    var apiKeysByID: [Int64: APIKey] = [:]
    /// The event log, oldest first.
    var events: [SecurityEvent] = []
    /// The last id given to a privilege, a key and an event; ids are never reused.
    var lastPrivilegeID: Int64 = 0
    var lastAPIKeyID: Int64 = 0
    var lastEventID: Int64 = 0
    /// Counts every change of users, groups, memberships, privileges and keys.
    var revision: Int64 = 0
}

/// The ``SecurityStore`` part of the memory store; behaves like `SQLMetadataStore`'s (both pass
/// `SecurityStoreConformance`).
///
/// Group names compare case-insensitively and keep the spelling they were created with; members are stored as the
/// users' stored (lowercased) names, without duplicates, in name order. Privileges keep their principal's name as given
/// and match it case-insensitively when a user or group is deleted.
extension MemoryMetadataStore: SecurityStore {
    // MARK: Users

    /// Every user, ordered by (lowercased) name.
    public func users() -> [User] {
        usersByName.values.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Deletes a user (matched case-insensitively) with its group memberships, the privileges naming it and its
    /// personal API keys. Returns false if there was no such user.
    public func deleteUser(named name: String) -> Bool {
        let key = name.lowercased()
        guard usersByName.removeValue(forKey: key) != nil else { return false }
        for (groupKey, group) in security.groupsByKey where group.members.contains(key) {
            security.groupsByKey[groupKey]?.members.removeAll { $0 == key }
        }
        security.privileges.removeAll { privilege in
            if case .user(let user) = privilege.principal { return user.lowercased() == key }
            return false
        }
        security.apiKeysByID = security.apiKeysByID.filter { _, apiKey in
            !(apiKey.kind == .personal && apiKey.userName?.lowercased() == key)
        }
        security.revision += 1
        return true
    }

    // MARK: Groups

    /// Creates a group. Throws `.invalidInput` for an empty name, `.conflict` if the name is taken
    /// (case-insensitively), `.notFound` if a member does not exist.
    public func createGroup(_ group: UserGroup) throws {
        guard !group.name.isEmpty else { throw SluiceError.invalidInput("A group needs a name.") }
        let key = group.name.lowercased()
        guard security.groupsByKey[key] == nil else {
            throw SluiceError.conflict("A group named '\(group.name)' exists already.")
        }
        var stored = group
        stored.members = try storedMembers(group.members, group: group.name)
        security.groupsByKey[key] = stored
        security.revision += 1
    }

    /// The group with this name (case-insensitive), or nil.
    public func group(named name: String) -> UserGroup? {
        security.groupsByKey[name.lowercased()]
    }

    /// Every group, ordered by lowercased name.
    public func groups() -> [UserGroup] {
        security.groupsByKey.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map(\.value)
    }

    /// Replaces a group's description and members (its name's spelling and creation time stay). Throws `.notFound`
    /// if the group or a member does not exist.
    public func updateGroup(_ group: UserGroup) throws {
        let key = group.name.lowercased()
        guard var stored = security.groupsByKey[key] else {
            throw SluiceError.notFound("There is no group named '\(group.name)'.")
        }
        stored.description = group.description
        stored.members = try storedMembers(group.members, group: stored.name)
        security.groupsByKey[key] = stored
        security.revision += 1
    }

    /// Deletes a group with its memberships and the privileges naming it. Returns false if there was no such group.
    public func deleteGroup(named name: String) -> Bool {
        let key = name.lowercased()
        guard security.groupsByKey.removeValue(forKey: key) != nil else { return false }
        security.privileges.removeAll { privilege in
            if case .group(let group) = privilege.principal { return group.lowercased() == key }
            return false
        }
        security.revision += 1
        return true
    }

    /// The names of the groups `userName` (case-insensitive) belongs to, ordered by lowercased name.
    public func groups(ofUser userName: String) -> [String] {
        let user = userName.lowercased()
        return groups().filter { $0.members.contains(user) }.map(\.name)
    }

    /// Members as stored: lowercased, each once, in name order. Throws `.notFound` naming the first missing user.
    private func storedMembers(_ members: [String], group: String) throws -> [String] {
        let names = Set(members.map { $0.lowercased() })
        for member in members where usersByName[member.lowercased()] == nil {
            throw SluiceError.notFound("Group '\(group)' names user '\(member)', who does not exist.")
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: Privileges

    /// Every permission and restriction, ordered by id.
    public func privileges() -> [Privilege] {
        security.privileges
    }

    /// Adds a privilege with the next id, or returns the identical one that exists (same principal, compared
    /// case-insensitively, task, feed and kind).
    @discardableResult
    public func addPrivilege(_ privilege: Privilege) -> Privilege {
        if let existing = security.privileges.first(where: { Self.samePrivilege($0, privilege) }) {
            return existing
        }
        security.lastPrivilegeID += 1
        var stored = privilege
        stored.id = security.lastPrivilegeID
        security.privileges.append(stored)
        security.revision += 1
        return stored
    }

    /// Removes a privilege by id; returns it, or nil if there was none.
    @discardableResult
    public func removePrivilege(id: Int64) -> Privilege? {
        guard let index = security.privileges.firstIndex(where: { $0.id == id }) else { return nil }
        security.revision += 1
        return security.privileges.remove(at: index)
    }

    /// Whether two privileges say the same thing (their ids and provenance aside).
    static func samePrivilege(_ left: Privilege, _ right: Privilege) -> Bool {
        left.principal.kind == right.principal.kind
            && left.principal.name?.lowercased()
                == right.principal.name?
                .lowercased()
            && left.task == right.task && left.feed == right.feed
            && left.isRestriction == right.isRestriction
    }

    // MARK: API keys

    /// Stores a key with the next id (its hash lowercased; a personal key's user name as stored, other kinds' user name
    /// dropped). Throws `.conflict`
    /// if a key with the same hash exists, `.invalidInput` for a personal key without a user, `.notFound` if a
    /// personal key's user does not exist.
    @discardableResult
    public func createAPIKey(_ key: APIKey) throws -> APIKey {
        var stored = key
        stored.keyHash = key.keyHash.lowercased()
        if key.kind == .personal {
            guard let userName = key.userName, !userName.isEmpty else {
                throw SluiceError.invalidInput("A personal API key needs the user it acts as.")
            }
            guard usersByName[userName.lowercased()] != nil else {
                throw SluiceError.notFound("There is no user named '\(userName)'.")
            }
            stored.userName = userName.lowercased()
        } else {
            stored.userName = nil
        }
        guard !security.apiKeysByID.values.contains(where: { $0.keyHash == stored.keyHash }) else {
            throw SluiceError.conflict("An API key with this text exists already.")
        }
        security.lastAPIKeyID += 1
        stored.id = security.lastAPIKeyID
        security.apiKeysByID[stored.id] = stored
        security.revision += 1
        return stored
    }

    /// The key whose hash is `hash` (compared in lowercase), or nil.
    public func apiKey(hash: String) -> APIKey? {
        let hash = hash.lowercased()
        return security.apiKeysByID.values.first { $0.keyHash == hash }
    }

    /// The key with this id, or nil.
    public func apiKey(id: Int64) -> APIKey? {
        security.apiKeysByID[id]
    }

    /// Every key, ordered by id.
    public func apiKeys() -> [APIKey] {
        security.apiKeysByID.values.sorted { $0.id < $1.id }
    }

    /// Deletes a key; returns it, or nil if there was none.
    @discardableResult
    public func deleteAPIKey(id: Int64) -> APIKey? {
        guard let removed = security.apiKeysByID.removeValue(forKey: id) else { return nil }
        security.revision += 1
        return removed
    }

    /// Sets a key's last use (not a change of the revision). Returns false if there is no such key.
    @discardableResult
    public func markAPIKeyUsed(id: Int64, at date: Date) -> Bool {
        guard security.apiKeysByID[id] != nil else { return false }
        security.apiKeysByID[id]?.lastUsedAt = date
        return true
    }

    // MARK: Event log

    /// Appends an event with the next id and returns it.
    @discardableResult
    public func recordEvent(_ event: SecurityEvent) -> SecurityEvent {
        security.lastEventID += 1
        var stored = event
        stored.id = security.lastEventID
        security.events.append(stored)
        return stored
    }

    /// The newest events first, at most `limit`, only those with an id below `beforeID` and of `kind` when given.
    public func events(limit: Int, beforeID: Int64?, kind: String?) -> [SecurityEvent] {
        guard limit > 0 else { return [] }
        return Array(
            security.events.reversed().lazy
                .filter { event in beforeID.map { event.id < $0 } ?? true }
                .filter { event in kind.map { event.kind == $0 } ?? true }
                .prefix(limit))
    }

    /// Counts the changes of users, groups, memberships, privileges and keys (from 0 for an empty store).
    public func securityRevision() -> Int64 {
        security.revision
    }
}
