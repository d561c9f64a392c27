import CSluiceCompression
import Crypto
import Foundation

/// One package name's shard in a built set: its published file, its content address, and the cache key that lets the
/// next build reuse it.
public struct ShardEntry: Sendable {
    /// The package name the shard holds records for (the key in the index's `shards` map).
    public let name: String
    /// SHA-256 of the compressed shard bytes (32 bytes): the value in the index and the file name.
    public let sha256: [UInt8]
    /// `<lowercase hex sha256>.msgpack.zst`, the key of ``file`` in ``SubdirSnapshot/shards``; served at
    /// `<subdir>/shards/<fileName>`.
    public let fileName: String
    /// SHA-256 of the uncompressed MessagePack shard: the cache key. The shard bytes are a pure function of the name's
    /// records (sorted file names, sorted keys), so an equal digest means equal records, and the previous compressed
    /// file is reused without compressing again.
    public let contentDigest: [UInt8]
    /// How many records (`.tar.bz2` and `.conda`) the shard holds.
    public let recordCount: Int
    /// The compressed shard, ready to serve.
    public let file: PublishedFile

    public init(
        name: String, sha256: [UInt8], fileName: String, contentDigest: [UInt8], recordCount: Int, file: PublishedFile
    ) {
        self.name = name
        self.sha256 = sha256
        self.fileName = fileName
        self.contentDigest = contentDigest
        self.recordCount = recordCount
        self.file = file
    }
}

/// The CEP 16 sharded repodata of one subdir: the index file and one shard per package name.
public struct RepodataShards: Sendable {
    public let subdir: String
    /// `repodata_shards.msgpack.zst`.
    public let index: PublishedFile
    /// Package name → shard.
    public let entries: [String: ShardEntry]
    /// How many shards this build encoded and compressed (the rest were reused from the previous build).
    public let compressedCount: Int

    /// Shard file name (`<hex>.msgpack.zst`) → file, the form ``SubdirSnapshot/shards`` keeps.
    public var files: [String: PublishedFile] {
        var files: [String: PublishedFile] = [:]
        files.reserveCapacity(entries.count)
        for entry in entries.values { files[entry.fileName] = entry.file }
        return files
    }
}

/// Builds CEP 16 sharded repodata (`<subdir>/repodata_shards.msgpack.zst` and `<subdir>/shards/<sha256>.msgpack.zst`)
/// from the same records as `repodata.json`, following `conda-protocol.md` §1.9:
///
/// - A shard is `zstd(msgpack({"packages": {…}, "packages.conda": {…}}))` holding every record of one package name,
///   `.tar.bz2` files under `packages` and `.conda` files under `packages.conda`, both always present (rattler has no
///   default for `packages`). Records are the repodata records with `md5` and `sha256` as 16- and 32-byte msgpack
///   `bin` (when they are valid hex of that length; otherwise they stay strings, which every client also accepts).
///   `removed` is left out (optional; nothing is ever removed in Sluice's shards).
/// - A shard's name is the lowercase hex SHA-256 of its **compressed** bytes plus `.msgpack.zst`.
/// - The index is `zstd(msgpack({"info": {"base_url": "", "shards_base_url": "shards/", "subdir": S}, "shards":
///   {name: bin(sha256)}, "version": 1}))`. `base_url` and `shards_base_url` are always present (rattler fails
///   without them). `shards_base_url` is `shards/` rather than rattler-index's `./shards/`: every client resolves
///   both to `<subdir>/shards/`, and without the `./` no client that concatenates strings (older libmamba) sends
///   `/./shards/` paths. `created_at` is written only when asked for: without it the index bytes, and so its ETag,
///   depend only on the records, and clients revalidate with a 304 after a rebuild that changed nothing.
/// - Every map is written with keys sorted by UTF-8 bytes and every shard's files sorted by name, so the same records
///   always give the same bytes and the same shard names.
///
/// Shards are compressed at ``defaultZstdLevel`` (6) by default: they are small (most under a few KB), where levels
/// above ~6 gain little and cost time on a 450,000-record subdir; the index is compressed at the same level (its
/// 32-byte hashes do not compress anyway). Encoding and compression run in parallel over package names with
/// `DispatchQueue.concurrentPerform`, each worker reusing one zstd context.
public enum ShardsBuilder {
    /// The index file name inside a subdir.
    public static let indexFileName = "repodata_shards.msgpack.zst"
    /// `info.shards_base_url`: shards live under `<subdir>/shards/`.
    public static let shardsBaseURL = "shards/"
    /// `info.base_url`: packages live in the subdir itself.
    public static let packagesBaseURL = ""
    /// The suffix of every shard file name.
    public static let shardFileSuffix = ".msgpack.zst"
    /// The zstd level used for shards and the index unless the caller picks another.
    public static let defaultZstdLevel: Int32 = 6
    /// The media type of the index and the shards. Never served with a `Content-Encoding`: clients decompress the
    /// files themselves.
    public static let contentType = "application/zstd"

    /// Builds the index and all shards of `subdir` from `records` (duplicate file names: the last one wins, as in
    /// `repodata.json`).
    ///
    /// - Parameters:
    ///   - builtAt: the `Last-Modified` of the index and of newly built shards.
    ///   - createdAt: when set, written as `info.created_at` (`YYYY-MM-DDTHH:MM:SSZ`).
    ///   - zstdLevel: the zstd level for shards and index.
    ///   - previous: the entries of the last build of this subdir (``SubdirSnapshot/shardEntries``). A name whose
    ///     uncompressed shard has the same digest as before keeps its previous compressed file (and its
    ///     `Last-Modified`) without being compressed again.
    /// - Throws: `SluiceError.internalError` when zstd fails.
    public static func build(
        subdir: String,
        records: [PackageRecord],
        builtAt: Date = Date(),
        createdAt: Date? = nil,
        zstdLevel: Int32 = defaultZstdLevel,
        previous: [String: ShardEntry] = [:]
    ) throws(SluiceError) -> RepodataShards {
        try build(
            subdir: subdir, table: RecordTable(records: records), builtAt: builtAt, createdAt: createdAt,
            zstdLevel: zstdLevel, previous: previous, previousRecords: [:])
    }

    /// ``build(subdir:records:builtAt:createdAt:zstdLevel:previous:)`` for a record table.
    ///
    /// - Parameter previousRecords: the records the `previous` entries were built from (by file name). A name whose
    ///   records are as many as its previous shard held and each equal to the previous record of its file name keeps
    ///   its previous entry without being encoded at all; other names are encoded and compared by digest.
    static func build(
        subdir: String,
        table: RecordTable,
        builtAt: Date,
        createdAt: Date?,
        zstdLevel: Int32,
        previous: [String: ShardEntry],
        previousRecords: [String: PackageRecord]
    ) throws(SluiceError) -> RepodataShards {
        let groups = group(table)
        // A few chunks per core for balance, every chunk non-empty.
        let chunkSize = max(1, (groups.count + maximumChunks - 1) / maximumChunks)
        let results = ParallelSlots<[ShardEntry]>(count: (groups.count + chunkSize - 1) / chunkSize)
        DispatchQueue.concurrentPerform(iterations: results.count) { chunk in
            let range = (chunk * chunkSize)..<min(groups.count, (chunk + 1) * chunkSize)
            do throws(SluiceError) {
                let compressor = try ShardCompressor(level: zstdLevel)
                var writer = MessagePackWriter(capacity: 16 * 1024)
                var entries: [ShardEntry] = []
                entries.reserveCapacity(range.count)
                for index in range {
                    let (name, group) = groups[index]
                    if let old = previous[name], old.recordCount == group.count, !previousRecords.isEmpty,
                        group.allSatisfy({ previousRecords[$0.filename] == $0 })
                    {
                        entries.append(old)
                        continue
                    }
                    writer.removeAll()
                    appendShard(records: group, to: &writer)
                    let contentDigest = Array(SHA256.hash(data: writer.bytes))
                    if let old = previous[name], old.contentDigest == contentDigest {
                        entries.append(old)
                        continue
                    }
                    let compressed = try compressor.compress(writer.bytes)
                    let sha256 = Array(SHA256.hash(data: compressed))
                    let file = PublishedFile(
                        bytes: Data(compressed), sha256: sha256, contentType: contentType, lastModified: builtAt)
                    entries.append(
                        ShardEntry(
                            name: name, sha256: sha256, fileName: HexCoding.encode(sha256) + shardFileSuffix,
                            contentDigest: contentDigest, recordCount: group.count, file: file))
                }
                results.set(chunk, .success(entries))
            } catch {
                results.set(chunk, .failure(error))
            }
        }

        var entries: [String: ShardEntry] = [:]
        entries.reserveCapacity(groups.count)
        var compressedCount = 0
        for chunk in 0..<results.count {
            for entry in try results.get(chunk) {
                if previous[entry.name]?.contentDigest != entry.contentDigest { compressedCount += 1 }
                entries[entry.name] = entry
            }
        }

        let indexBytes = indexMessagePack(
            subdir: subdir, shards: entries.mapValues(\.sha256), createdAt: createdAt)
        let compressedIndex = try ShardCompressor(level: zstdLevel).compress(indexBytes)
        let index = PublishedFile(bytes: Data(compressedIndex), contentType: contentType, lastModified: builtAt)
        return RepodataShards(subdir: subdir, index: index, entries: entries, compressedCount: compressedCount)
    }

    /// The uncompressed MessagePack of one shard holding `records` (all of one package name, file names unique):
    /// `{"packages": {…}, "packages.conda": {…}}` with files and keys sorted.
    public static func shardMessagePack(records: [PackageRecord]) -> [UInt8] {
        var writer = MessagePackWriter(capacity: 1024)
        appendShard(records: records, to: &writer)
        return writer.bytes
    }

    /// The uncompressed MessagePack of the index: `{"info": {…}, "shards": {name: bin(sha256)}, "version": 1}`.
    /// - Parameters:
    ///   - shards: package name → the 32-byte SHA-256 of its compressed shard.
    ///   - createdAt: written as `info.created_at` when set.
    public static func indexMessagePack(subdir: String, shards: [String: [UInt8]], createdAt: Date?) -> [UInt8] {
        var writer = MessagePackWriter(capacity: 64 + shards.count * 64)
        writer.writeMapHeader(count: 3)
        writer.writeString("info")
        writer.writeMapHeader(count: createdAt == nil ? 3 : 4)
        writer.writeString("base_url")
        writer.writeString(packagesBaseURL)
        if let createdAt {
            writer.writeString("created_at")
            writer.writeString(rfc3339(createdAt))
        }
        writer.writeString("shards_base_url")
        writer.writeString(shardsBaseURL)
        writer.writeString("subdir")
        writer.writeString(subdir)
        writer.writeString("shards")
        writer.writeMapHeader(count: shards.count)
        for name in MessagePackWriter.sortedKeys(shards) {
            writer.writeString(name)
            writer.writeBinary(shards[name]!)
        }
        writer.writeString("version")
        writer.writeInt(1)
        return writer.bytes
    }

    /// The package name a record is sharded under: its `name` field, or the name part of its file name when the
    /// field is missing or empty; nil when neither gives one.
    public static func packageName(of record: PackageRecord) -> String? {
        let name = record.name
        if !name.isEmpty { return name }
        return PackageFilename(record.filename)?.name
    }

    // MARK: Encoding

    /// Records grouped by package name, names in sorted order.
    static func group(_ table: RecordTable) -> [(name: String, records: [PackageRecord])] {
        var byName: [String: [PackageRecord]] = [:]
        for index in table.tarBz2 + table.conda {
            let record = table.records[index]
            guard let name = packageName(of: record) else { continue }
            byName[name, default: []].append(record)
        }
        return byName.sorted { JSONWriter.utf8Precedes($0.key, $1.key) }.map { (name: $0.key, records: $0.value) }
    }

    static func appendShard(records: [PackageRecord], to writer: inout MessagePackWriter) {
        var tarBz2: [PackageRecord] = []
        var conda: [PackageRecord] = []
        for record in records {
            if record.format == .conda { conda.append(record) } else { tarBz2.append(record) }
        }
        tarBz2.sort { JSONWriter.utf8Precedes($0.filename, $1.filename) }
        conda.sort { JSONWriter.utf8Precedes($0.filename, $1.filename) }
        writer.writeMapHeader(count: 2)
        writer.writeString("packages")
        appendRecords(tarBz2, to: &writer)
        writer.writeString("packages.conda")
        appendRecords(conda, to: &writer)
    }

    private static func appendRecords(_ records: [PackageRecord], to writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: records.count)
        for record in records {
            writer.writeString(record.filename)
            appendRecord(record.fields, to: &writer)
        }
    }

    /// A record's fields as a map with sorted keys; `md5` and `sha256` as raw bytes when they are hex of the right
    /// length (16 and 32 bytes).
    static func appendRecord(_ fields: [String: JSONValue], to writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: fields.count)
        var pairs = Array(fields)
        pairs.sort { JSONWriter.utf8Precedes($0.key, $1.key) }
        for (key, value) in pairs {
            writer.writeString(key)
            if case .string(let hex) = value, let length = hashFieldLength(key), hex.utf8.count == length * 2,
                let raw = HexCoding.decode(hex)
            {
                writer.writeBinary(raw)
            } else {
                writer.write(value)
            }
        }
    }

    /// The length in bytes of a record field CEP 16 stores as binary (`md5`: 16, `sha256`: 32), nil for others.
    @inline(__always)
    static func hashFieldLength(_ key: String) -> Int? {
        switch key {
        case "md5": return 16
        case "sha256": return 32
        default: return nil
        }
    }

    // MARK: Helpers

    /// The most work items the names are split into: eight per core, so uneven shard sizes still balance.
    private static var maximumChunks: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount) * 8
    }

    private static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// A zstd compression context reused for many small inputs (one per worker), with the content size in each frame.
private final class ShardCompressor {
    private let context: OpaquePointer
    private let level: Int32
    private var buffer: [UInt8] = []

    init(level: Int32) throws(SluiceError) {
        guard let context = ZSTD_createCCtx() else {
            throw SluiceError(.internalError, "Could not create a zstd compression context (out of memory?).")
        }
        self.context = context
        self.level = level
    }

    deinit { ZSTD_freeCCtx(context) }

    func compress(_ input: [UInt8]) throws(SluiceError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        if buffer.count < bound { buffer = [UInt8](repeating: 0, count: bound) }
        let written = input.withUnsafeBytes { source in
            buffer.withUnsafeMutableBytes { destination in
                ZSTD_compressCCtx(context, destination.baseAddress, bound, source.baseAddress, source.count, level)
            }
        }
        if ZSTD_isError(written) != 0 {
            throw SluiceError(.internalError, "zstd compression of a repodata shard failed: \(zstdErrorName(written)).")
        }
        return Array(buffer[0..<written])
    }
}
