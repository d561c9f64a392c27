import Crypto
import Foundation

/// A ``BlobStore`` that keeps blobs in memory, for tests.
///
/// It hashes every file it stores and throws `.invalidInput` when the bytes do not match the given sha256. The source
/// file is left in place.
public actor MemoryBlobStore: BlobStore {
    private var blobs: [String: Data] = [:]
    private let chunkSize: Int

    /// Creates an empty store whose ``read(sha256:range:)`` yields chunks of at most `chunkSize` bytes.
    public init(chunkSize: Int = 64 * 1024) {
        self.chunkSize = max(1, chunkSize)
    }

    /// Stores a copy of `file` under `sha256`. A no-op if the blob exists.
    /// - Throws: `.invalidInput` if `sha256` is not 64 lowercase hex digits or does not match the file's bytes;
    ///   `.storageFailure` if the file cannot be read.
    public func put(sha256: String, from file: URL) throws {
        try ContentAddress.validate(sha256: sha256)
        if blobs[sha256] != nil { return }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw SluiceError(.storageFailure, "Cannot read '\(file.path)' to store it.", cause: error)
        }
        let actual = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard actual == sha256 else {
            throw SluiceError.invalidInput("The file's sha256 is \(actual), not \(sha256).")
        }
        blobs[sha256] = data
    }

    /// Whether the blob exists. Throws `.invalidInput` for a malformed sha256.
    public func contains(sha256: String) throws -> Bool {
        try ContentAddress.validate(sha256: sha256)
        return blobs[sha256] != nil
    }

    /// The blob's size in bytes, or nil if absent. Throws `.invalidInput` for a malformed sha256.
    public func size(sha256: String) throws -> Int64? {
        try ContentAddress.validate(sha256: sha256)
        return blobs[sha256].map { Int64($0.count) }
    }

    /// Reads `range` of the blob (all of it when nil) as chunks.
    /// - Throws: `.notFound` if absent, `.rangeNotSatisfiable` if `range` does not lie inside the blob,
    ///   `.invalidInput` for a malformed sha256.
    public func read(sha256: String, range: Range<Int64>?) throws -> BlobContent {
        try ContentAddress.validate(sha256: sha256)
        guard let data = blobs[sha256] else {
            throw SluiceError.notFound("There is no blob \(sha256).")
        }
        let bounds = try ContentAddress.checkedRange(range, size: Int64(data.count))
        let slice = data.subdata(in: Int(bounds.lowerBound)..<Int(bounds.upperBound))
        let chunkSize = self.chunkSize
        let stream = AsyncThrowingStream<Data, any Error> { continuation in
            var offset = 0
            while offset < slice.count {
                let end = min(offset + chunkSize, slice.count)
                continuation.yield(slice.subdata(in: offset..<end))
                offset = end
            }
            continuation.finish()
        }
        return .chunks(stream, count: Int64(slice.count))
    }

    /// Removes the blob; no error if absent. Throws `.invalidInput` for a malformed sha256.
    public func delete(sha256: String) throws {
        try ContentAddress.validate(sha256: sha256)
        blobs[sha256] = nil
    }

    /// Always answers: memory does not fail.
    public func ping() {}
}

/// Checks shared by the ``BlobStore`` implementations.
public enum ContentAddress {
    /// Checks that `sha256` is exactly 64 lowercase hex digits, so that it can name a file or key safely.
    /// - Throws: `SluiceError.invalidInput` otherwise.
    public static func validate(sha256: String) throws(SluiceError) {
        let valid =
            sha256.utf8.count == 64
            && sha256.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard valid else {
            throw .invalidInput("'\(sha256.prefix(80))' is not a sha256 (64 lowercase hex digits).")
        }
    }

    /// The byte range to serve of a blob of `size` bytes: `range`, or the whole blob when nil.
    /// - Throws: `SluiceError.rangeNotSatisfiable` if `range` does not lie inside `0..<size`.
    public static func checkedRange(_ range: Range<Int64>?, size: Int64) throws(SluiceError) -> Range<Int64> {
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0, range.upperBound <= size else {
            throw SluiceError(
                .rangeNotSatisfiable,
                "Bytes \(range.lowerBound)..<\(range.upperBound) lie outside the blob of \(size) bytes.")
        }
        return range
    }
}
