import Foundation

/// A set of package files to promote into one feed, in one transaction (``MetadataStore/promote(_:)``).
public struct PromotionBatch: Hashable, Sendable {
    /// The feed the files come from (recorded in history; the store does not read it).
    public var fromFeed: String
    /// The hosted feed that receives the files.
    public var toFeed: String
    /// The rows to add to ``toFeed``, each with `feed == toFeed`: the record as the source served it and the sha256
    /// of the blob the source holds (the blob is referenced again, not copied).
    public var packages: [StoredPackage]
    /// Who promotes (a user name), if known.
    public var user: String?
    /// Why, as the user wrote it.
    public var comments: String
    /// When; stored with whole-millisecond precision.
    public var date: Date

    /// Describes a promotion of `packages` from `fromFeed` into `toFeed`.
    public init(
        fromFeed: String, toFeed: String, packages: [StoredPackage], user: String?, comments: String = "",
        date: Date = Date()
    ) {
        self.fromFeed = fromFeed
        self.toFeed = toFeed
        self.packages = packages
        self.user = user
        self.comments = comments
        self.date = date
    }
}

/// One row of the promotion history: a file promoted into a feed, or deleted from it.
public struct PromotionRecord: Hashable, Sendable {
    /// What happened to the file.
    public enum Kind: String, Hashable, Sendable, Codable {
        /// The file was promoted from ``PromotionRecord/fromFeed`` into ``PromotionRecord/toFeed``.
        case promote
        /// The file was deleted from ``PromotionRecord/toFeed`` (``PromotionRecord/fromFeed`` is nil).
        case delete
    }

    /// Assigned by the store: increasing in commit order, unique.
    public var id: Int64
    /// The rows written by one ``MetadataStore/promote(_:)`` call share the id of the batch's first row; a deletion
    /// is its own batch.
    public var batch: Int64
    public var kind: Kind
    /// The source feed of a promotion; nil for a deletion.
    public var fromFeed: String?
    /// The feed that received (or lost) the file.
    public var toFeed: String
    public var name: String
    public var version: String
    public var build: String
    public var subdir: String
    public var filename: String
    public var sha256: String
    public var user: String?
    public var comments: String
    public var date: Date

    /// Creates a history row; ``id`` and ``batch`` are replaced by the store when it is written.
    public init(
        id: Int64 = 0, batch: Int64 = 0, kind: Kind, fromFeed: String?, toFeed: String, name: String,
        version: String, build: String, subdir: String, filename: String, sha256: String, user: String?,
        comments: String, date: Date
    ) {
        self.id = id
        self.batch = batch
        self.kind = kind
        self.fromFeed = fromFeed
        self.toFeed = toFeed
        self.name = name
        self.version = version
        self.build = build
        self.subdir = subdir
        self.filename = filename
        self.sha256 = sha256
        self.user = user
        self.comments = comments
        self.date = date
    }

    /// The history row of promoting `package` (a row of the target feed) from `fromFeed`.
    public init(promoting package: StoredPackage, fromFeed: String, user: String?, comments: String, date: Date) {
        self.init(
            kind: .promote, fromFeed: fromFeed, toFeed: package.feed, name: package.name, version: package.version,
            build: package.build, subdir: package.subdir, filename: package.filename, sha256: package.sha256,
            user: user, comments: comments, date: date)
    }

    /// The history row of deleting `package` from its feed.
    public init(deleting package: StoredPackage, user: String?, comments: String, date: Date) {
        self.init(
            kind: .delete, fromFeed: nil, toFeed: package.feed, name: package.name, version: package.version,
            build: package.build, subdir: package.subdir, filename: package.filename, sha256: package.sha256,
            user: user, comments: comments, date: date)
    }
}

/// What ``MetadataStore/promote(_:)`` did with one file of the batch, in the batch's order.
public enum PromotionResult: Hashable, Sendable {
    /// The file was added to the target feed; this is its history row.
    case promoted(PromotionRecord)
    /// The target feed already held this file name with the same sha256; nothing was written. This is its row.
    case alreadyPromoted(StoredPackage)
}

/// Filters of ``MetadataStore/promotions(fromFeed:toFeed:package:version:)``; nil matches everything.
public struct PromotionFilter: Hashable, Sendable {
    public var fromFeed: String?
    public var toFeed: String?
    public var package: String?
    public var version: String?

    public init(fromFeed: String? = nil, toFeed: String? = nil, package: String? = nil, version: String? = nil) {
        self.fromFeed = fromFeed
        self.toFeed = toFeed
        self.package = package
        self.version = version
    }

    /// Whether `record` passes every filter that is set.
    public func matches(_ record: PromotionRecord) -> Bool {
        (fromFeed == nil || record.fromFeed == fromFeed) && (toFeed == nil || record.toFeed == toFeed)
            && (package == nil || record.name == package) && (version == nil || record.version == version)
    }
}

extension MetadataStoreRules {
    /// `.invalidInput`: a row of a promotion batch belongs to another feed than the batch's target.
    public static func promotionFeedMismatchError(package: StoredPackage, toFeed: String) -> SluiceError {
        .invalidInput(
            "The promotion into feed '\(toFeed)' holds \(package.subdir)/\(package.filename) "
                + "for feed '\(package.feed)'."
        )
    }

    /// `.conflict`: the target feed holds the promoted file name with other bytes; nothing was promoted.
    public static func promotionConflictError(package: StoredPackage, existingSHA256: String) -> SluiceError {
        .conflict(
            "Feed '\(package.feed)' already holds \(package.subdir)/\(package.filename) with other bytes "
                + "(sha256 \(existingSHA256), promoted file \(package.sha256)); nothing was promoted. "
                + "Delete it from '\(package.feed)' first.")
    }
}
