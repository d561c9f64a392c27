import Foundation

/// The database behind Sluice: feeds, package rows, users.
///
/// Implementations: `MemoryMetadataStore` (beside this file) and `SQLMetadataStore` (SQLite now, PostgreSQL later,
/// one SQL layer). Every implementation passes the conformance suite in `SluiceTesting`.
///
/// Each method is atomic: it either happens completely or not at all. Errors are `SluiceError`s: `.conflict` for a
/// name that is taken or a file with other bytes, `.notFound` for a feed that does not exist, `.storageFailure` when
/// the database fails.
public protocol MetadataStore: Sendable {
    // MARK: Feeds

    /// Creates a feed. Throws `.conflict` if the name is taken.
    func createFeed(_ feed: Feed) async throws
    /// The feed with this name, or nil.
    func feed(named name: String) async throws -> Feed?
    /// All feeds, ordered by name.
    func feeds() async throws -> [Feed]
    /// Replaces a feed's settings (matched by name). Throws `.notFound` if it does not exist.
    func updateFeed(_ feed: Feed) async throws
    /// Deletes a feed and all its package rows. Returns false if there was no such feed.
    func deleteFeed(named name: String) async throws -> Bool

    // MARK: Packages

    /// Adds a package row to its feed, atomically. Same filename and subdir with the same sha256 → `.unchanged`;
    /// with another sha256 → throws `.conflict` unless `overwrite`, then `.replaced`. Throws `.notFound` if the
    /// feed does not exist.
    func addPackage(_ package: StoredPackage, overwrite: Bool) async throws -> AddPackageOutcome
    /// One package row, or nil.
    func package(feed: String, subdir: String, filename: String) async throws -> StoredPackage?
    /// Every package row of a feed's subdir, ordered by filename.
    func packages(feed: String, subdir: String) async throws -> [StoredPackage]
    /// Every package row of a feed with this package name, across subdirs, ordered by subdir then filename.
    func packages(feed: String, name: String) async throws -> [StoredPackage]
    /// The subdirs in which the feed holds at least one package, sorted.
    func subdirs(feed: String) async throws -> [String]
    /// Removes a package row; returns it, or nil if there was none.
    func deletePackage(feed: String, subdir: String, filename: String) async throws -> StoredPackage?
    /// How many package rows, in any feed, point at this blob.
    func referenceCount(sha256: String) async throws -> Int

    // MARK: Users

    /// Creates a user. Throws `.conflict` if the name is taken (names compare case-insensitively).
    func createUser(_ user: User) async throws
    /// The user with this name (case-insensitive), or nil.
    func user(named name: String) async throws -> User?
    /// Replaces a user's fields (matched by name). Throws `.notFound` if it does not exist.
    func updateUser(_ user: User) async throws

    /// Checks that the database answers; used by `GET /health`.
    func ping() async throws
}
