import Foundation

/// One package file of one feed, the unit downloads are counted in.
public struct DownloadKey: Hashable, Sendable {
    /// The feed the file was downloaded from.
    public var feed: String
    /// The subdir (`linux-64`, `noarch`, …).
    public var subdir: String
    /// The package file name (`<name>-<version>-<build>.conda` or `.tar.bz2`).
    public var filename: String

    /// Creates a key.
    public init(feed: String, subdir: String, filename: String) {
        self.feed = feed
        self.subdir = subdir
        self.filename = filename
    }
}

/// The recorded download count of one package file.
public struct DownloadCount: Hashable, Sendable {
    /// Which file.
    public var key: DownloadKey
    /// Successful downloads recorded so far (every instance's flushes added up).
    public var count: Int64
    /// When downloads of the file were last recorded (the time of the last flush that added to it).
    public var lastDownloadedAt: Date

    /// Creates a row.
    public init(key: DownloadKey, count: Int64, lastDownloadedAt: Date) {
        self.key = key
        self.count = count
        self.lastDownloadedAt = lastDownloadedAt
    }
}

/// Persistent download counts of package files, written in batches of deltas so that several server instances on one
/// database add up and a restart keeps the counts.
///
/// Implemented by `MemoryMetadataStore` and `SQLMetadataStore` beside ``MetadataStore``. Counts are not tied to
/// package rows: deleting a package leaves its count (a re-upload continues it). Errors: `.storageFailure` when the
/// database fails.
public protocol DownloadCountStore: Sendable {
    /// Adds each delta to its file's count (creating the row at the delta), in one transaction, and sets
    /// `lastDownloadedAt` to `date`. Deltas of 0 or less are ignored.
    func addDownloads(_ deltas: [DownloadKey: Int64], at date: Date) async throws
    /// The counts of every file of package `name` in `feed` (files whose name parses as that package), ordered by
    /// subdir then filename; files never downloaded are absent.
    func downloadCounts(feed: String, name: String) async throws -> [DownloadCount]
}

extension DownloadCountStore {
    /// Whether `filename` is a file of package `name` (`<name>-<version>-<build>.<ext>`).
    public static func isFile(_ filename: String, ofPackage name: String) -> Bool {
        PackageFilename(filename)?.name == name
    }
}
