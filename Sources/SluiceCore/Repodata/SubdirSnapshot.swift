import Crypto
import Foundation

/// One published index file: its bytes and the HTTP validators to serve it with.
public struct PublishedFile: Sendable {
    public let bytes: Data
    /// A strong, quoted entity tag: `"` + the first 32 hex digits of the SHA-256 of ``bytes`` + `"`.
    public let etag: String
    /// `application/json`, `application/zstd` or `application/x-bzip2`. Never serve `.zst`/`.bz2` with a
    /// `Content-Encoding`: clients decode those files themselves.
    public let contentType: String
    public let lastModified: Date

    public init(bytes: Data, contentType: String, lastModified: Date) {
        self.bytes = bytes
        self.etag = Self.etag(for: bytes)
        self.contentType = contentType
        self.lastModified = lastModified
    }

    /// The strong ETag for `bytes`: `"<first 32 hex digits of sha256>"`.
    public static func etag(for bytes: Data) -> String {
        let digest = SHA256.hash(data: bytes)
        var hex = ""
        hex.reserveCapacity(34)
        hex.append("\"")
        for byte in digest.prefix(16) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        hex.append("\"")
        return hex
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")
}

/// Every index file of one subdir, built at one moment from one record list, ready to serve without touching the
/// database: `repodata.json`, `current_repodata.json` and their `.zst` and `.bz2` variants, plus the records by file
/// name for package lookups.
public struct SubdirSnapshot: Sendable {
    public let subdir: String
    public let builtAt: Date
    /// File name → record, for answering package requests without a database query.
    public let records: [String: PackageRecord]
    /// File name (`repodata.json`, `repodata.json.zst`, `repodata.json.bz2`, `current_repodata.json`,
    /// `current_repodata.json.zst`, `current_repodata.json.bz2`) → published file.
    public let files: [String: PublishedFile]

    public init(subdir: String, builtAt: Date, records: [String: PackageRecord], files: [String: PublishedFile]) {
        self.subdir = subdir
        self.builtAt = builtAt
        self.records = records
        self.files = files
    }

    /// The file names a snapshot holds.
    public static let fileNames = [
        "repodata.json", "repodata.json.zst", "repodata.json.bz2",
        "current_repodata.json", "current_repodata.json.zst", "current_repodata.json.bz2",
    ]

    /// Builds all index files of `subdir` from `records`: the two JSON documents, then their four compressed forms
    /// in parallel (zstd at `zstdLevel`, bzip2 at level 9). An empty record list gives the minimal valid repodata.
    /// - Throws: `SluiceError` from the compressors (`internalError` if a codec fails).
    public static func build(
        subdir: String, records: [PackageRecord], builtAt: Date = Date(), zstdLevel: Int32 = 16
    ) throws(SluiceError) -> SubdirSnapshot {
        let unique = RepodataBuilder.unique(records)
        var byFilename: [String: PackageRecord] = [:]
        byFilename.reserveCapacity(unique.count)
        for record in unique { byFilename[record.filename] = record }

        let documents = ParallelResults<Data>(count: 2)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let bytes =
                index == 0
                ? RepodataBuilder.write(subdir: subdir, records: unique, legacyMD5: nil)
                : RepodataBuilder.currentRepodata(subdir: subdir, records: unique)
            documents.set(index, .success(Data(bytes)))
        }
        let repodata = try documents.get(0)
        let current = try documents.get(1)

        // zstd of repodata, bzip2 of repodata, zstd of current, bzip2 of current.
        let inputs = [repodata, repodata, current, current]
        let compressed = ParallelResults<Data>(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            do throws(SluiceError) {
                let output =
                    index % 2 == 0
                    ? try Zstd.compress(inputs[index], level: zstdLevel)
                    : try Bzip2.compress(inputs[index])
                compressed.set(index, .success(output))
            } catch {
                compressed.set(index, .failure(error))
            }
        }

        let json = "application/json"
        let zstd = "application/zstd"
        let bzip2 = "application/x-bzip2"
        let files: [String: PublishedFile] = [
            "repodata.json": PublishedFile(bytes: repodata, contentType: json, lastModified: builtAt),
            "repodata.json.zst": PublishedFile(bytes: try compressed.get(0), contentType: zstd, lastModified: builtAt),
            "repodata.json.bz2": PublishedFile(bytes: try compressed.get(1), contentType: bzip2, lastModified: builtAt),
            "current_repodata.json": PublishedFile(bytes: current, contentType: json, lastModified: builtAt),
            "current_repodata.json.zst": PublishedFile(
                bytes: try compressed.get(2), contentType: zstd, lastModified: builtAt),
            "current_repodata.json.bz2": PublishedFile(
                bytes: try compressed.get(3), contentType: bzip2, lastModified: builtAt),
        ]
        return SubdirSnapshot(subdir: subdir, builtAt: builtAt, records: byFilename, files: files)
    }
}

/// Fixed-size result slots written from `DispatchQueue.concurrentPerform` iterations.
private final class ParallelResults<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Value, SluiceError>?]

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ result: Result<Value, SluiceError>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func get(_ index: Int) throws(SluiceError) -> Value {
        lock.lock()
        let slot = slots[index]
        lock.unlock()
        guard let slot else { throw SluiceError(.internalError, "A parallel index build step produced no result.") }
        return try slot.get()
    }
}
