import Foundation
import Logging
import SQLKit
import SluiceCore
import Synchronization

/// A ``MetadataStore`` over any SQLKit database: SQLite now (``sqlite(file:logger:)``), PostgreSQL later, with the
/// same SQL. The few dialect-specific pieces are in ``SQLDialectSupport``.
///
/// The schema is created and upgraded by numbered migrations recorded in `schema_migrations`, applied when the store
/// opens. Timestamps are stored as milliseconds since 1970 (`BIGINT`); records and channel data as compact JSON text.
/// User names are stored lowercased (the name as given becomes the display name when that is empty).
///
/// Errors: `.conflict` for a unique violation, `.notFound` for a missing feed, `.storageFailure` (with the driver's
/// error as cause) when the database fails.
public final class SQLMetadataStore: MetadataStore {
    let database: any SQLDatabase
    let dialect: SQLDialectSupport
    let logger: Logger
    /// Write transactions take turns here first when the dialect needs it (SQLite).
    private let writeGate: WriteGate?
    private let close: Mutex<(@Sendable () async throws -> Void)?>

    /// Opens a store over `database`, applying pending migrations.
    /// - Parameters:
    ///   - database: A database whose `withSession` gives one connection, so transactions stay on it.
    ///   - dialect: The database-specific pieces.
    ///   - logger: For migrations and failures; queries and their values are never logged.
    ///   - shutdown: Closes the connections; run once by ``shutdown()``.
    /// - Throws: `SluiceError(.storageFailure)` if migrating fails.
    public convenience init(
        database: any SQLDatabase, dialect: SQLDialectSupport, logger: Logger,
        shutdown: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await self.init(
            database: database, dialect: dialect, logger: logger, migratingUpTo: nil, shutdown: shutdown)
    }

    /// Opens a store, applying pending migrations up to `lastVersion` (all when nil; tests build old schemas with it).
    init(
        database: any SQLDatabase, dialect: SQLDialectSupport, logger: Logger, migratingUpTo lastVersion: Int64?,
        shutdown: @escaping @Sendable () async throws -> Void
    ) async throws {
        self.database = database
        self.dialect = dialect
        self.logger = logger
        self.writeGate = dialect.serializesWritesInProcess ? WriteGate() : nil
        self.close = Mutex(shutdown)
        try await migrate(upTo: lastVersion)
    }

    /// Closes the database connections. Later calls do nothing; using the store afterwards fails.
    public func shutdown() async throws {
        let close = self.close.withLock { close in
            defer { close = nil }
            return close
        }
        try await close?()
    }

    // MARK: Feeds

    /// Creates a feed and its list of connectors in one transaction. Throws `.conflict` if the name is taken,
    /// `.notFound` if a connector does not exist, `.invalidInput` if a connector is named twice.
    public func createFeed(_ feed: Feed) async throws {
        try await withStorageErrors(
            "creating feed '\(feed.name)'", conflict: "A feed named '\(feed.name)' exists already.",
            foreignKey: Self.connectorDeletedMeanwhile(feed: feed.name)
        ) {
            try await self.inWriteTransaction { database in
                try await database.insert(into: "feeds")
                    .columns("name", "feed_type", "kind", "description", "active", "created_at")
                    .values(
                        SQLBind(feed.name), SQLBind(feed.feedType), SQLBind(feed.kind.rawValue),
                        SQLBind(feed.description), SQLBind(feed.active), SQLBind(Self.milliseconds(feed.createdAt))
                    )
                    .run()
                try await Self.writeConnectors(of: feed, in: database)
            }
        }
    }

    /// The feed with this name (with its connectors, in order), or nil.
    public func feed(named name: String) async throws -> Feed? {
        try await withStorageErrors("reading feed '\(name)'") {
            try await Self.feeds(
                from: self.selectFeeds().where(SQLColumn("name", table: "feeds"), .equal, SQLBind(name))
            )
            .first
        }
    }

    /// All feeds (with their connectors, in order), ordered by name.
    public func feeds() async throws -> [Feed] {
        try await withStorageErrors("listing feeds") {
            try await Self.feeds(from: self.selectFeeds())
        }
    }

    /// Replaces a feed's settings and its list of connectors (matched by name) in one transaction. Throws `.notFound`
    /// if the feed or a connector does not exist, `.invalidInput` if a connector is named twice.
    public func updateFeed(_ feed: Feed) async throws {
        try await withStorageErrors(
            "updating feed '\(feed.name)'", foreignKey: Self.connectorDeletedMeanwhile(feed: feed.name)
        ) {
            try await self.inWriteTransaction { database in
                let updated = try await database.update("feeds")
                    .set("feed_type", to: feed.feedType)
                    .set("kind", to: feed.kind.rawValue)
                    .set("description", to: feed.description)
                    .set("active", to: feed.active)
                    .set("created_at", to: Self.milliseconds(feed.createdAt))
                    .where("name", .equal, feed.name)
                    .returning("name")
                    .all()
                    .count
                guard updated > 0 else { throw SluiceError.notFound("There is no feed named '\(feed.name)'.") }
                try await database.delete(from: "feed_connectors").where("feed", .equal, feed.name).run()
                try await Self.writeConnectors(of: feed, in: database)
            }
        }
    }

    /// Deletes a feed and (by the foreign keys' cascade) all its package rows and connector links. Returns false if
    /// there was no such feed.
    public func deleteFeed(named name: String) async throws -> Bool {
        try await withStorageErrors("deleting feed '\(name)'") {
            try await self.inWriteTransaction { database in
                // Explicit as well as cascaded, so a database opened without foreign keys enforced stays clean.
                try await database.delete(from: "packages").where("feed", .equal, name).run()
                try await database.delete(from: "feed_connectors").where("feed", .equal, name).run()
                return !(try await database.delete(from: "feeds").where("name", .equal, name).returning("name").all())
                    .isEmpty
            }
        }
    }

    /// `feeds` left-joined with their connector links, in name then position order: one statement, so a feed and its
    /// connectors are read from one state of the database.
    private func selectFeeds() -> SQLSelectBuilder {
        database.select()
            .column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("feeds")))
            .column(SQLColumn("connector", table: "feed_connectors"))
            .from("feeds")
            .join(
                "feed_connectors", method: SQLJoinMethod.left, on: SQLColumn("name", table: "feeds"), .equal,
                SQLColumn("feed", table: "feed_connectors")
            )
            .orderBy(SQLColumn("name", table: "feeds"))
            .orderBy(SQLColumn("position", table: "feed_connectors"))
    }

    /// Folds the rows of ``selectFeeds()`` into feeds, ordered by the UTF-8 bytes of their names.
    private static func feeds(from query: SQLSelectBuilder) async throws -> [Feed] {
        var feeds: [Feed] = []
        for row in try await query.all() {
            let name = try row.decode(column: "name", as: String.self)
            if feeds.last?.name != name { feeds.append(try feed(from: row)) }
            if !(try row.decodeNil(column: "connector")) {
                feeds[feeds.count - 1].connectors.append(try row.decode(column: "connector", as: String.self))
            }
        }
        return feeds.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// The message when the database refuses a connector link because the connector was deleted after it was checked
    /// (possible where writers do not take turns, as with PostgreSQL).
    private static func connectorDeletedMeanwhile(feed: String) -> String {
        "A connector of feed '\(feed)' was deleted while the feed was being saved; check its connectors and retry."
    }

    /// Inserts a feed's connector links (positions 0, 1, …) after checking that each connector exists once.
    private static func writeConnectors(of feed: Feed, in database: any SQLDatabase) async throws {
        if let duplicate = MetadataStoreRules.duplicateConnector(in: feed) {
            throw MetadataStoreRules.duplicateConnectorError(feed: feed.name, connector: duplicate)
        }
        guard !feed.connectors.isEmpty else { return }
        let existing = Set(
            try await database.select().column("name").from("connectors")
                .where("name", .in, feed.connectors)
                .all()
                .map { try $0.decode(column: "name", as: String.self) })
        if let missing = feed.connectors.first(where: { !existing.contains($0) }) {
            throw MetadataStoreRules.unknownConnectorError(feed: feed.name, connector: missing)
        }
        let insert = database.insert(into: "feed_connectors").columns("feed", "position", "connector")
        for (position, connector) in feed.connectors.enumerated() {
            insert.values(SQLBind(feed.name), SQLBind(Int64(position)), SQLBind(connector))
        }
        try await insert.run()
    }

    // MARK: Packages

    /// Adds a package row in one transaction: insert, and if the file is there already (the insert did nothing),
    /// read the row locked and decide. Two concurrent adds of one file end with one row.
    /// - Throws: `.notFound` if the feed does not exist; `.conflict` if the file holds other bytes and `overwrite` is
    ///   false; `.storageFailure` if the database fails.
    public func addPackage(_ package: StoredPackage, overwrite: Bool) async throws -> AddPackageOutcome {
        let values = Self.packageValues(package)
        return try await withStorageErrors("adding \(package.subdir)/\(package.filename) to feed '\(package.feed)'") {
            try await self.inWriteTransaction { database in
                let feed = try await database.select().column("name").from("feeds")
                    .where("name", .equal, package.feed).first()
                guard feed != nil else { throw SluiceError.notFound("There is no feed named '\(package.feed)'.") }

                let inserted = try await database.insert(into: "packages")
                    .columns(Self.packageColumns)
                    .values(values)
                    .ignoringConflicts(with: ["feed", "subdir", "filename"])
                    .returning("sha256")
                    .all()
                if !inserted.isEmpty { return .added }

                let existing = try await database.select().column("sha256").from("packages")
                    .where("feed", .equal, package.feed)
                    .where("subdir", .equal, package.subdir)
                    .where("filename", .equal, package.filename)
                    .for(.update)
                    .first()
                guard let existing else {
                    throw SluiceError(
                        .storageFailure,
                        "\(package.subdir)/\(package.filename) in feed '\(package.feed)' changed during the upload; retry."
                    )
                }
                let previous = try existing.decode(column: "sha256", as: String.self)
                if previous == package.sha256 { return .unchanged }
                guard overwrite else {
                    throw SluiceError.conflict(
                        "Feed '\(package.feed)' already holds \(package.subdir)/\(package.filename) with other bytes "
                            + "(sha256 \(previous)); delete it first or upload with overwrite.")
                }
                let update = database.update("packages")
                for (column, value) in zip(Self.packageColumns, values) {
                    update.set(SQLIdentifier(column), to: value)
                }
                try await update
                    .where("feed", .equal, package.feed)
                    .where("subdir", .equal, package.subdir)
                    .where("filename", .equal, package.filename)
                    .run()
                return .replaced(previousSHA256: previous)
            }
        }
    }

    /// One package row, or nil.
    public func package(feed: String, subdir: String, filename: String) async throws -> StoredPackage? {
        try await withStorageErrors("reading \(subdir)/\(filename) of feed '\(feed)'") {
            try await self.database.select().column("*").from("packages")
                .where("feed", .equal, feed)
                .where("subdir", .equal, subdir)
                .where("filename", .equal, filename)
                .first()
                .map(Self.package(from:))
        }
    }

    /// Every package row of a feed's subdir, ordered by filename (by UTF-8 bytes, whatever the database collation).
    public func packages(feed: String, subdir: String) async throws -> [StoredPackage] {
        try await withStorageErrors("listing \(subdir) of feed '\(feed)'") {
            try await self.database.select().column("*").from("packages")
                .where("feed", .equal, feed)
                .where("subdir", .equal, subdir)
                .orderBy("filename")
                .all()
                .map(Self.package(from:))
                .sorted { $0.filename.utf8.lexicographicallyPrecedes($1.filename.utf8) }
        }
    }

    /// Every package row of a feed with this package name, ordered by subdir then filename.
    public func packages(feed: String, name: String) async throws -> [StoredPackage] {
        try await withStorageErrors("listing package '\(name)' of feed '\(feed)'") {
            try await self.database.select().column("*").from("packages")
                .where("feed", .equal, feed)
                .where("name", .equal, name)
                .orderBy("subdir")
                .orderBy("filename")
                .all()
                .map(Self.package(from:))
                .sorted { left, right in
                    if left.subdir != right.subdir {
                        return left.subdir.utf8.lexicographicallyPrecedes(right.subdir.utf8)
                    }
                    return left.filename.utf8.lexicographicallyPrecedes(right.filename.utf8)
                }
        }
    }

    /// The subdirs in which the feed holds at least one package, sorted.
    public func subdirs(feed: String) async throws -> [String] {
        try await withStorageErrors("listing the subdirs of feed '\(feed)'") {
            try await self.database.select().distinct().column("subdir").from("packages")
                .where("feed", .equal, feed)
                .all()
                .map { try $0.decode(column: "subdir", as: String.self) }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    /// Removes a package row; returns it, or nil if there was none.
    public func deletePackage(feed: String, subdir: String, filename: String) async throws -> StoredPackage? {
        try await withStorageErrors("deleting \(subdir)/\(filename) of feed '\(feed)'") {
            try await self.inWriteTransaction { database in
                try await database.delete(from: "packages")
                    .where("feed", .equal, feed)
                    .where("subdir", .equal, subdir)
                    .where("filename", .equal, filename)
                    .returning(SQLLiteral.all)
                    .all()
                    .first
                    .map(Self.package(from:))
            }
        }
    }

    /// How many package rows, cached upstream files and upstream snapshots point at this blob: one statement, so
    /// the three counts come from one state of the database.
    public func referenceCount(sha256: String) async throws -> Int {
        try await withStorageErrors("counting the references to blob \(sha256)") {
            let select = self.database.select()
            for (table, alias) in [
                ("packages", "packages"), ("upstream_cached_files", "cached_files"),
                ("upstream_snapshots", "snapshots"),
            ] {
                select.column(
                    SQLSubquery.select { subquery in
                        subquery.column(SQLFunction("COUNT", args: SQLLiteral.all)).from(table)
                            .where("sha256", .equal, sha256)
                    },
                    as: alias)
            }
            guard let row = try await select.first() else { return 0 }
            return try ["packages", "cached_files", "snapshots"].reduce(0) { total, alias in
                total + Int(try row.decode(column: alias, as: Int64.self))
            }
        }
    }

    // MARK: Users

    /// Creates a user under its lowercased name. Throws `.conflict` if the name is taken (case-insensitive).
    public func createUser(_ user: User) async throws {
        let stored = Self.normalized(user)
        try await withStorageErrors(
            "creating user '\(user.name)'", conflict: "A user named '\(user.name)' exists already."
        ) {
            try await self.inWriteTransaction { database in
                try await database.insert(into: "users")
                    .columns("name", "display_name", "email", "password_hash", "created_at")
                    .values(
                        SQLBind(stored.name), SQLBind(stored.displayName), SQLBind(stored.email),
                        SQLBind(stored.passwordHash), SQLBind(Self.milliseconds(stored.createdAt))
                    )
                    .run()
            }
        }
    }

    /// The user with this name (case-insensitive), or nil. Its `name` is the lowercased name.
    public func user(named name: String) async throws -> User? {
        try await withStorageErrors("reading user '\(name)'") {
            try await self.database.select().column("*").from("users").where("name", .equal, name.lowercased())
                .first()
                .map(Self.user(from:))
        }
    }

    /// Replaces a user's fields (matched case-insensitively by name). Throws `.notFound` if it does not exist.
    public func updateUser(_ user: User) async throws {
        let stored = Self.normalized(user)
        let updated = try await withStorageErrors("updating user '\(user.name)'") {
            try await self.inWriteTransaction { database in
                try await database.update("users")
                    .set("display_name", to: stored.displayName)
                    .set("email", to: stored.email)
                    .set("password_hash", to: stored.passwordHash)
                    .set("created_at", to: Self.milliseconds(stored.createdAt))
                    .where("name", .equal, stored.name)
                    .returning("name")
                    .all()
                    .count
            }
        }
        guard updated > 0 else { throw SluiceError.notFound("There is no user named '\(user.name)'.") }
    }

    /// Runs `SELECT 1`. Throws `.storageFailure` if the database does not answer.
    public func ping() async throws {
        try await withStorageErrors("pinging the database") {
            _ = try await self.database.select().column(SQLLiteral.numeric("1"), as: "one").all()
        }
    }

    // MARK: Transactions and errors

    /// Runs `body` in one write transaction on one connection: committed if it returns, rolled back if it throws.
    ///
    /// Every write of the store goes through here. The transaction runs in an unstructured task, so cancelling the
    /// caller cannot interrupt it between `BEGIN` and `COMMIT`/`ROLLBACK` and return a connection mid-transaction to
    /// the pool; with SQLite, write transactions of this process first take turns at the ``WriteGate``.
    func inWriteTransaction<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        let database = self.database
        let begin = dialect.beginWriteTransaction
        let gate = writeGate
        let transaction = Task {
            let run: @Sendable () async throws -> Result = {
                try await database.withSession { connection in
                    try await connection.execute(sql: SQLRaw(begin)) { _ in }
                    do {
                        let result = try await body(connection)
                        try await connection.execute(sql: SQLRaw("COMMIT")) { _ in }
                        return result
                    } catch {
                        do {
                            try await connection.execute(sql: SQLRaw("ROLLBACK")) { _ in }
                        } catch let rollbackError {
                            connection.logger.error("Rollback failed", metadata: ["error": "\(rollbackError)"])
                        }
                        throw error
                    }
                }
            }
            if let gate {
                return try await gate.withGate(run)
            }
            return try await run()
        }
        return try await transaction.value
    }

    /// Runs `body`, turning database errors into `SluiceError`s: a unique violation into `.conflict` (with
    /// `conflict` as the message), a foreign-key violation into `.notFound` (with `foreignKey` as the message), anything
    /// else into `.storageFailure`.
    func withStorageErrors<Result>(
        _ action: String, conflict: String? = nil, foreignKey: String? = nil, _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            return try await body()
        } catch let error as SluiceError {
            throw error
        } catch {
            if dialect.isUniqueViolation(error) {
                throw SluiceError(.conflict, conflict ?? "Conflict while \(action): the name is taken.", cause: error)
            }
            if dialect.isForeignKeyViolation(error) {
                throw SluiceError(
                    .notFound, foreignKey ?? "Not found while \(action): the feed does not exist.", cause: error)
            }
            logger.error("Database failure", metadata: ["action": "\(action)", "error": "\(error)"])
            throw SluiceError(.storageFailure, "The database failed while \(action).", cause: error)
        }
    }

    // MARK: Rows

    static let packageColumns = [
        "feed", "subdir", "filename", "name", "version", "build", "sha256", "md5", "size", "record_json",
        "channel_data_json", "uploaded_at", "uploaded_by",
    ]

    static func packageValues(_ package: StoredPackage) -> [any SQLExpression] {
        [
            SQLBind(package.feed), SQLBind(package.subdir), SQLBind(package.filename), SQLBind(package.name),
            SQLBind(package.version), SQLBind(package.build), SQLBind(package.sha256), SQLBind(package.md5),
            SQLBind(package.size), SQLBind(jsonText(package.record.fields)), SQLBind(jsonText(package.channelData)),
            SQLBind(milliseconds(package.uploadedAt)),
            package.uploadedBy.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null,
        ]
    }

    static func package(from row: any SQLRow) throws -> StoredPackage {
        let filename = try row.decode(column: "filename", as: String.self)
        let fields = try jsonObject(row.decode(column: "record_json", as: String.self), column: "record_json")
        var package = StoredPackage(
            feed: try row.decode(column: "feed", as: String.self),
            subdir: try row.decode(column: "subdir", as: String.self),
            record: PackageRecord(filename: filename, fields: fields),
            channelData: try jsonObject(
                row.decode(column: "channel_data_json", as: String.self), column: "channel_data_json"),
            uploadedAt: date(milliseconds: try row.decode(column: "uploaded_at", as: Int64.self)),
            uploadedBy: try row.decodeNil(column: "uploaded_by")
                ? nil : try row.decode(column: "uploaded_by", as: String.self)
        )
        package.name = try row.decode(column: "name", as: String.self)
        package.version = try row.decode(column: "version", as: String.self)
        package.build = try row.decode(column: "build", as: String.self)
        package.sha256 = try row.decode(column: "sha256", as: String.self)
        package.md5 = try row.decode(column: "md5", as: String.self)
        package.size = try row.decode(column: "size", as: Int64.self)
        return package
    }

    static func feed(from row: any SQLRow) throws -> Feed {
        let kindName = try row.decode(column: "kind", as: String.self)
        guard let kind = Feed.Kind(rawValue: kindName) else {
            throw SluiceError(.storageFailure, "The database holds a feed of unknown kind '\(kindName)'.")
        }
        return Feed(
            name: try row.decode(column: "name", as: String.self),
            feedType: try row.decode(column: "feed_type", as: String.self),
            kind: kind,
            description: try row.decode(column: "description", as: String.self),
            active: try row.decode(column: "active", as: Bool.self),
            createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self))
        )
    }

    static func user(from row: any SQLRow) throws -> User {
        User(
            name: try row.decode(column: "name", as: String.self),
            displayName: try row.decode(column: "display_name", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self))
        )
    }

    /// The stored form of a user: the name lowercased, the display name defaulting to the name as given.
    static func normalized(_ user: User) -> User {
        var stored = user
        stored.name = user.name.lowercased()
        if stored.displayName.isEmpty { stored.displayName = user.name }
        return stored
    }

    static func jsonText(_ object: [String: JSONValue]) -> String {
        String(decoding: JSONValue.object(object).compactJSON(), as: UTF8.self)
    }

    static func jsonObject(_ text: String, column: String) throws -> [String: JSONValue] {
        do {
            guard let object = try JSONValue.parse(Array(text.utf8)).objectValue else {
                throw SluiceError(.storageFailure, "The database column \(column) holds JSON that is not an object.")
            }
            return object
        } catch {
            throw SluiceError(.storageFailure, "The database column \(column) holds invalid JSON.", cause: error)
        }
    }

    /// Timestamps are stored as whole milliseconds since 1970.
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
