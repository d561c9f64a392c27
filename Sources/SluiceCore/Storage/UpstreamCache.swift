import Foundation

/// The last good upstream repodata of one (connector, subdir), so that a proxy feed still serves after a restart with
/// the upstream down; or the marker that the upstream has no such subdir.
///
/// The repodata itself is a blob: the decompressed `repodata.json` the upstream sent, stored in the ``BlobStore``
/// under ``sha256`` (shared, like every blob, with hosted packages; ``MetadataStore/referenceCount(sha256:)`` counts
/// this row). Saved by ``MetadataStore/saveUpstreamSnapshot(_:)``.
public struct UpstreamSnapshotRow: Hashable, Sendable, Codable {
    /// Whether the upstream has the subdir.
    public enum Status: String, Hashable, Sendable, Codable {
        /// The upstream served repodata for the subdir; ``UpstreamSnapshotRow/sha256`` names its blob.
        case present
        /// The upstream answered 404 for the subdir (normal for a platform a channel does not build for).
        case notFound
    }

    /// The connector's name.
    public var connector: String
    public var subdir: String
    public var status: Status
    /// The blob of the decompressed upstream `repodata.json`; nil when ``status`` is `.notFound`.
    public var sha256: String?
    /// The upstream's `ETag` header for the file it came from, as sent (quotes and `W/` included).
    public var etag: String?
    /// The upstream's `Last-Modified` header, as sent.
    public var lastModified: String?
    /// Which upstream file the validators belong to (`repodata.json.zst` or `repodata.json`), if known.
    public var upstreamFilename: String?
    /// When the upstream last confirmed this content (a fetch, a 304 or a 404).
    public var fetchedAt: Date
    /// How many package records the repodata holds (0 when not found).
    public var recordCount: Int

    /// Creates a row; see the properties for what each field means.
    public init(
        connector: String, subdir: String, status: Status = .present, sha256: String?, etag: String? = nil,
        lastModified: String? = nil, upstreamFilename: String? = nil, fetchedAt: Date = Date(), recordCount: Int = 0
    ) {
        self.connector = connector
        self.subdir = subdir
        self.status = status
        self.sha256 = sha256
        self.etag = etag
        self.lastModified = lastModified
        self.upstreamFilename = upstreamFilename
        self.fetchedAt = fetchedAt
        self.recordCount = recordCount
    }

    /// A marker saying the upstream has no such subdir, confirmed at `fetchedAt`.
    public static func notFound(connector: String, subdir: String, fetchedAt: Date = Date()) -> UpstreamSnapshotRow {
        UpstreamSnapshotRow(
            connector: connector, subdir: subdir, status: .notFound, sha256: nil, fetchedAt: fetchedAt, recordCount: 0)
    }
}

/// An upstream package file that the proxy cache holds: which connector and subdir it came from, and the blob its
/// bytes are in (an ordinary content-addressed blob, shared with hosted storage and stored once).
///
/// Recorded by ``MetadataStore/recordCachedFile(_:)`` after the download was verified against the upstream record.
public struct CachedUpstreamFile: Hashable, Sendable, Codable {
    /// The connector's name.
    public var connector: String
    public var subdir: String
    public var filename: String
    /// The content address of the file's bytes in the ``BlobStore``.
    public var sha256: String
    public var size: Int64
    /// When the file entered the cache.
    public var cachedAt: Date
    /// When a client last downloaded it, if recorded.
    public var lastAccessedAt: Date?

    /// Creates a row; see the properties for what each field means.
    public init(
        connector: String, subdir: String, filename: String, sha256: String, size: Int64, cachedAt: Date = Date(),
        lastAccessedAt: Date? = nil
    ) {
        self.connector = connector
        self.subdir = subdir
        self.filename = filename
        self.sha256 = sha256
        self.size = size
        self.cachedAt = cachedAt
        self.lastAccessedAt = lastAccessedAt
    }
}
