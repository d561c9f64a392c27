import Foundation

/// The security part of the database: users (beyond ``MetadataStore``'s create/read/update), groups, privileges
/// (permissions and restrictions), API keys and the event log.
///
/// `MemoryMetadataStore` and `SQLMetadataStore` implement it beside ``MetadataStore``; the conformance suite in
/// `SluiceTesting` (`SecurityStoreConformance`) runs against both. Errors as in ``MetadataStore``: `.conflict` for a
/// taken name, `.notFound` for a missing user/group/key, `.storageFailure` when the database fails. Names of users
/// and groups compare case-insensitively.
public protocol SecurityStore: Sendable {
    // MARK: Users

    /// Every user, ordered by name (case-insensitively).
    func users() async throws -> [User]
    /// Deletes a user, its group memberships, its privileges and its personal API keys. Returns false if there was
    /// no such user.
    func deleteUser(named name: String) async throws -> Bool

    // MARK: Groups

    /// Creates a group with its members. Throws `.conflict` if the name is taken, `.notFound` if a member does not
    /// exist.
    func createGroup(_ group: UserGroup) async throws
    /// The group with this name, or nil.
    func group(named name: String) async throws -> UserGroup?
    /// Every group, ordered by name.
    func groups() async throws -> [UserGroup]
    /// Replaces a group's description and members. Throws `.notFound` if the group or a member does not exist.
    func updateGroup(_ group: UserGroup) async throws
    /// Deletes a group, its memberships and its privileges. Returns false if there was no such group.
    func deleteGroup(named name: String) async throws -> Bool
    /// The names of the groups `userName` belongs to, ordered by name.
    func groups(ofUser userName: String) async throws -> [String]

    // MARK: Privileges

    /// Every permission and restriction, ordered by id.
    func privileges() async throws -> [Privilege]
    /// Adds a privilege and returns it with its id. An identical one (same principal, task, feed, kind) is not
    /// duplicated: the existing one is returned.
    @discardableResult
    func addPrivilege(_ privilege: Privilege) async throws -> Privilege
    /// Removes a privilege by id; returns it, or nil if there was none.
    @discardableResult
    func removePrivilege(id: Int64) async throws -> Privilege?

    // MARK: API keys

    /// Stores a key and returns it with its id. Throws `.conflict` if a key with the same ``APIKey/keyHash`` exists.
    @discardableResult
    func createAPIKey(_ key: APIKey) async throws -> APIKey
    /// The key whose ``APIKey/keyHash`` is `hash` (lowercase hex sha256), or nil.
    func apiKey(hash: String) async throws -> APIKey?
    /// The key with this id, or nil.
    func apiKey(id: Int64) async throws -> APIKey?
    /// Every key, ordered by id.
    func apiKeys() async throws -> [APIKey]
    /// Deletes a key; returns it, or nil if there was none.
    @discardableResult
    func deleteAPIKey(id: Int64) async throws -> APIKey?
    /// Sets ``APIKey/lastUsedAt``. Returns false if there is no such key.
    @discardableResult
    func markAPIKeyUsed(id: Int64, at date: Date) async throws -> Bool

    // MARK: Event log

    /// Appends an event and returns it with its id.
    @discardableResult
    func recordEvent(_ event: SecurityEvent) async throws -> SecurityEvent
    /// The newest events first, at most `limit`, optionally only those with id below `beforeID` (paging) and of
    /// `kind`.
    func events(limit: Int, beforeID: Int64?, kind: String?) async throws -> [SecurityEvent]

    /// A number that changes whenever users, groups, memberships, privileges or API keys change (not
    /// `markAPIKeyUsed` nor events), so several servers on one database can tell that their cached security data
    /// is stale. Any monotonically increasing counter works.
    func securityRevision() async throws -> Int64
}
