import Foundation
import Logging
import SQLKit
import SQLiteKit
import SluiceCore
import Synchronization

extension SQLMetadataStore {
    /// Opens (creating if needed) the SQLite database `file` and applies pending migrations.
    ///
    /// The database runs in WAL mode (readers never wait for the writer), with `foreign_keys` on and a 10 second
    /// `busy_timeout` on every connection. Connections come from a small pool; writes take the write lock up front
    /// (`BEGIN IMMEDIATE`). Call ``shutdown()`` when done.
    /// - Throws: `SluiceError(.storageFailure)` if the file cannot be opened or migrated.
    public static func sqlite(file: URL, logger: Logger, maximumConnections: Int = 4) async throws -> SQLMetadataStore {
        try await sqlite(file: file, logger: logger, maximumConnections: maximumConnections, migratingUpTo: nil)
    }

    /// ``sqlite(file:logger:maximumConnections:)`` applying migrations only up to `lastVersion` (all when nil), so that
    /// tests can build a database with an old schema and check that it upgrades.
    static func sqlite(
        file: URL, logger: Logger, maximumConnections: Int, migratingUpTo lastVersion: Int64?
    ) async throws -> SQLMetadataStore {
        do {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw SluiceError(
                .storageFailure, "Cannot create the folder of the database '\(file.path)'.", cause: error)
        }
        let storage = SQLiteConnection.Storage.file(path: file.path)
        // journal_mode is a property of the database file: set it once, before the pool opens connections.
        do {
            let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
            do {
                _ = try await connection.query("PRAGMA busy_timeout = \(SQLiteConnectionPoolDatabase.busyTimeout)")
                let mode = try await connection.query("PRAGMA journal_mode = WAL")
                    .first?.column("journal_mode")?.string
                if mode?.lowercased() != "wal" {
                    logger.warning("SQLite did not switch to WAL mode", metadata: ["mode": "\(mode ?? "?")"])
                }
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        } catch {
            throw SluiceError(.storageFailure, "Cannot open the SQLite database '\(file.path)'.", cause: error)
        }
        return try await open(
            storage: storage, maximumConnections: max(1, maximumConnections), logger: logger,
            migratingUpTo: lastVersion)
    }

    /// Opens a new, empty SQLite database that lives in memory (one connection) until ``shutdown()``; for tests.
    /// - Throws: `SluiceError(.storageFailure)` if migrating fails.
    public static func sqliteInMemory(
        logger: Logger = Logger(label: "sluice.storage.sqlite")
    ) async throws
        -> SQLMetadataStore
    {
        // One connection: every connection to ":memory:" is a database of its own.
        try await open(storage: .memory, maximumConnections: 1, logger: logger, migratingUpTo: nil)
    }

    private static func open(
        storage: SQLiteConnection.Storage, maximumConnections: Int, logger: Logger, migratingUpTo lastVersion: Int64?
    ) async throws -> SQLMetadataStore {
        // One event loop for the pool: SQLite work runs on the thread pool, the loop only hands out connections.
        // A thread per connection, owned by this store: SQLite's busy handler sleeps on the thread that runs the
        // statement, so a shared thread pool could be filled with waiters while the lock holder needs a thread.
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let threadPool = NIOThreadPool(numberOfThreads: maximumConnections)
        threadPool.start()
        let pool = SQLiteConnectionPool(
            EventLoopGroupConnectionPool(
                source: SQLiteConnectionSourceWithPragmas(storage: storage, threadPool: threadPool),
                maxConnectionsPerEventLoop: maximumConnections,
                requestTimeout: .seconds(30),
                logger: logger,
                on: eventLoop
            ),
            threadPool: threadPool)
        let database = SQLiteConnectionPoolDatabase(pool: pool, logger: logger)
        do {
            return try await SQLMetadataStore(
                database: database, dialect: .sqlite, logger: logger, migratingUpTo: lastVersion
            ) {
                try await pool.shutdown()
            }
        } catch {
            try? await pool.shutdown()
            throw error
        }
    }
}

/// Opens SQLite connections with the settings every connection needs: `foreign_keys` and `busy_timeout`.
struct SQLiteConnectionSourceWithPragmas: ConnectionPoolSource {
    let storage: SQLiteConnection.Storage
    let threadPool: NIOThreadPool

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        SQLiteConnection.open(storage: storage, threadPool: threadPool, logger: logger, on: eventLoop)
            .flatMap { connection in
                connection.query("PRAGMA busy_timeout = \(SQLiteConnectionPoolDatabase.busyTimeout)")
                    .flatMap { _ in connection.query("PRAGMA foreign_keys = ON") }
                    .map { _ in connection }
                    .flatMapError { error in
                        connection.close().flatMapThrowing { throw error }
                    }
            }
    }
}

/// An `SQLDatabase` over a pool of SQLite connections: each query borrows a connection, and `withSession` keeps one
/// connection for the whole closure (which transactions need).
struct SQLiteConnectionPoolDatabase: SQLDatabase {
    /// Milliseconds a connection waits for a lock before failing with `SQLITE_BUSY`.
    static let busyTimeout = 10_000

    let pool: SQLiteConnectionPool
    let logger: Logger

    var eventLoop: any EventLoop { pool.pool.eventLoopGroup.any() }
    var dialect: any SQLDialect { SQLiteDialect() }
    /// Queries are not logged: their values include password hashes.
    var queryLogLevel: Logger.Level? { nil }

    func execute(
        sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void
    )
        -> EventLoopFuture<Void>
    {
        pool.pool.withConnection(logger: logger) { connection in
            connection.sql(queryLogLevel: nil).execute(sql: query, onRow)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await withSession { database in
            try await database.execute(sql: query, onRow)
        }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let connection = try await pool.pool.requestConnection(logger: logger).get()
        defer { pool.pool.releaseConnection(connection, logger: logger) }
        return try await closure(connection.sql(queryLogLevel: nil))
    }
}

/// Holds the connection pool across tasks. AsyncKit's pool is not marked `Sendable`, but it guards its state with a
/// lock and confines each per-loop pool to its event loop (Vapor and Fluent share it across threads the same way).
final class SQLiteConnectionPool: @unchecked Sendable {
    let pool: EventLoopGroupConnectionPool<SQLiteConnectionSourceWithPragmas>
    /// The threads that run the connections' statements; stopped after the connections are closed.
    let threadPool: NIOThreadPool
    private let isShutDown = Mutex(false)

    init(_ pool: EventLoopGroupConnectionPool<SQLiteConnectionSourceWithPragmas>, threadPool: NIOThreadPool) {
        self.pool = pool
        self.threadPool = threadPool
    }

    /// Closes every connection, then stops the threads; later calls do nothing.
    func shutdown() async throws {
        let first = isShutDown.withLock { isShutDown in
            defer { isShutDown = true }
            return !isShutDown
        }
        guard first else { return }
        do {
            try await pool.shutdownAsync()
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
        try await threadPool.shutdownGracefully()
    }

    deinit {
        // A store dropped without `shutdown()` closes its connections here rather than tripping AsyncKit's
        // assertion that a pool is shut down before it is deinitialised.
        if !isShutDown.withLock({ $0 }) {
            let threadPool = self.threadPool
            pool.shutdownGracefully { _ in threadPool.shutdownGracefully { _ in } }
        }
    }
}
