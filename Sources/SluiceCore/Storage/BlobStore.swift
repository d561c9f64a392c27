import Foundation

/// Content-addressed storage of package files (and later other large bytes), keyed by the sha256 of the content.
///
/// Implementations: `MemoryBlobStore` (beside this file) and `FileSystemBlobStore` (S3 comes later). Every
/// implementation passes the conformance suite in `SluiceTesting`.
///
/// A blob is either completely present or absent: ``put(sha256:from:)`` never leaves a partial blob visible.
public protocol BlobStore: Sendable {
    /// Stores the bytes of a local, already verified file under `sha256`. If the blob exists already this is a no-op
    /// (the file's bytes are the same by construction). The source file may be moved or removed by the call.
    /// Throws `.invalidInput` if the file's sha256 is not `sha256` (implementations that hash while storing check it).
    func put(sha256: String, from file: URL) async throws
    /// Whether the blob exists.
    func contains(sha256: String) async throws -> Bool
    /// The blob's size in bytes, or nil if absent.
    func size(sha256: String) async throws -> Int64?
    /// Reads `range` of the blob (the whole blob when nil), in chunks. Throws `.notFound` if absent.
    func read(sha256: String, range: Range<Int64>?) async throws -> BlobContent
    /// Removes the blob; no error if absent.
    func delete(sha256: String) async throws
    /// Checks that the storage answers; used by `GET /health`.
    func ping() async throws
}

/// The bytes of a blob, as a local file when the backend has one (so the server can serve it with large-chunk or
/// zero-copy I/O), or as chunks.
public enum BlobContent: Sendable {
    /// A local file; serve `range` of it.
    case file(URL, range: Range<Int64>)
    /// Chunks of bytes in order.
    case chunks(AsyncThrowingStream<Data, any Error>, count: Int64)
}
