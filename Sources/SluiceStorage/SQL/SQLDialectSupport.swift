import SQLKit
import SQLiteKit

/// The few database-specific pieces that ``SQLMetadataStore`` needs beyond SQLKit's portable builders: how to open a
/// write transaction and how to recognise constraint violations in the driver's errors.
///
/// Everything else in `SQLMetadataStore` is portable SQL. A PostgreSQL instance (with postgres-kit) will be:
/// `beginWriteTransaction: "BEGIN"`, `lockMigrations: "LOCK TABLE schema_migrations IN EXCLUSIVE MODE"`,
/// `serializesWritesInProcess: false`, unique
/// violation = `PSQLError` with SQLSTATE `23505`, foreign-key violation = `23503`.
public struct SQLDialectSupport: Sendable {
    /// The statement that opens a transaction that will write. SQLite: `BEGIN IMMEDIATE`, which takes the write lock
    /// at once (waiting up to `busy_timeout`), so two writers never deadlock on upgrading a read lock.
    public var beginWriteTransaction: String
    /// A statement run first inside the migration transaction to keep other processes from migrating at the same
    /// time, or nil when ``beginWriteTransaction`` does that already.
    public var lockMigrations: String?
    /// Whether write transactions of one process must take turns before they reach the database. True for SQLite,
    /// whose busy handler sleeps on a thread-pool thread (see `WriteGate`); false for PostgreSQL.
    public var serializesWritesInProcess: Bool
    /// Whether an error from the driver is a violation of a primary-key or unique constraint.
    public var isUniqueViolation: @Sendable (any Error) -> Bool
    /// Whether an error from the driver is a violation of a foreign-key constraint.
    public var isForeignKeyViolation: @Sendable (any Error) -> Bool

    /// Describes a dialect; see the type's documentation for what each piece means.
    public init(
        beginWriteTransaction: String,
        lockMigrations: String?,
        serializesWritesInProcess: Bool,
        isUniqueViolation: @escaping @Sendable (any Error) -> Bool,
        isForeignKeyViolation: @escaping @Sendable (any Error) -> Bool
    ) {
        self.beginWriteTransaction = beginWriteTransaction
        self.lockMigrations = lockMigrations
        self.serializesWritesInProcess = serializesWritesInProcess
        self.isUniqueViolation = isUniqueViolation
        self.isForeignKeyViolation = isForeignKeyViolation
    }

    /// SQLite through SQLiteKit.
    public static let sqlite = SQLDialectSupport(
        beginWriteTransaction: "BEGIN IMMEDIATE",
        lockMigrations: nil,
        serializesWritesInProcess: true,
        isUniqueViolation: { error in
            guard let error = error as? SQLiteError else { return false }
            switch error.reason {
            case .constraintUniqueFailed, .constraintPrimaryKeyFailed: return true
            default: return false
            }
        },
        isForeignKeyViolation: { error in
            (error as? SQLiteError)?.reason == .constraintForeignKeyFailed
        }
    )
}
