import Foundation
import SluiceCore

/// The validators an upstream sent with a repodata file, sent back as `If-None-Match` / `If-Modified-Since` to
/// revalidate it.
///
/// Validators belong to the representation they came from (`repodata.json.zst` and `repodata.json` have different
/// ETags), so ``variant`` records it and ``UpstreamClient`` sends them only to that URL.
public struct CacheValidators: Sendable, Hashable, Codable {
    /// The `ETag` response header, as sent (quotes and `W/` included).
    public var etag: String?
    /// The `Last-Modified` response header, as sent.
    public var lastModified: String?
    /// Which file the validators came from; `nil` sends them to whichever file is fetched.
    public var variant: RepodataVariant?

    public init(etag: String? = nil, lastModified: String? = nil, variant: RepodataVariant? = nil) {
        self.etag = etag
        self.lastModified = lastModified
        self.variant = variant
    }

    /// Whether there is nothing to revalidate with.
    public var isEmpty: Bool { etag == nil && lastModified == nil }
}

/// Which upstream file a subdir's repodata was read from.
public enum RepodataVariant: String, Sendable, Hashable, Codable {
    /// `repodata.json.zst`, preferred (about a seventh of the JSON's size).
    case zstd = "repodata.json.zst"
    /// `repodata.json`, used when the upstream has no `.zst`.
    case json = "repodata.json"

    /// The file name in the subdir.
    public var filename: String { rawValue }
}

/// The outcome of ``UpstreamClient/fetchRepodata(channel:subdir:validators:)``.
public enum RepodataFetchResult: Sendable, Hashable {
    /// The upstream answered 304: the snapshot built from the validators' response is still current.
    case notModified
    /// The upstream has no such subdir (404), which is normal for a platform a channel does not build for.
    case notFound
    /// New repodata: `body` is the decompressed JSON, `validators` are to be sent on the next fetch.
    case fetched(body: Data, validators: CacheValidators, variant: RepodataVariant)
}

/// What the upstream's repodata says a package file is; a download is verified against it.
public struct ExpectedFile: Sendable, Hashable {
    /// The size in bytes.
    public var size: Int64
    /// Lowercase hex sha256, if the record has one (checked in preference to `md5`).
    public var sha256: String?
    /// Lowercase hex md5, checked when there is no sha256.
    public var md5: String?

    public init(size: Int64, sha256: String? = nil, md5: String? = nil) {
        self.size = size
        self.sha256 = sha256.flatMap { $0.isEmpty ? nil : $0.lowercased() }
        self.md5 = md5.flatMap { $0.isEmpty ? nil : $0.lowercased() }
    }

    /// The expectation a repodata record states (`size`, `sha256`, `md5`).
    public init(record: PackageRecord) {
        self.init(
            size: record.size,
            sha256: record.fields["sha256"]?.stringValue,
            md5: record.fields["md5"]?.stringValue)
    }
}

/// A package file that was downloaded and verified.
public struct DownloadedFile: Sendable, Hashable {
    /// Where the bytes are (the `temporaryFile` passed to the download).
    public var file: URL
    /// The number of bytes.
    public var size: Int64
    /// Lowercase hex sha256 of the bytes (computed while downloading, also when the record had only an md5).
    public var sha256: String
    /// Lowercase hex md5 of the bytes.
    public var md5: String
}
