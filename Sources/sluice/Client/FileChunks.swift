import Foundation
import NIOCore

/// The bytes of a file as an async sequence of buffers, read lazily in fixed-size chunks, so an upload streams the
/// file instead of loading it into memory. `onChunk` is called with the size of every chunk read.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let path: String
    let chunkSize: Int
    let onChunk: @Sendable (Int) -> Void

    init(path: String, chunkSize: Int = 256 * 1024, onChunk: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.path = path
        self.chunkSize = chunkSize
        self.onChunk = onChunk
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(path: path, chunkSize: chunkSize, onChunk: onChunk)
    }

    struct Iterator: AsyncIteratorProtocol {
        let path: String
        let chunkSize: Int
        let onChunk: @Sendable (Int) -> Void
        var handle: FileHandle?
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            if finished { return nil }
            if handle == nil {
                handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            }
            guard let data = try handle?.read(upToCount: chunkSize), !data.isEmpty else {
                try? handle?.close()
                handle = nil
                finished = true
                return nil
            }
            onChunk(data.count)
            return ByteBuffer(bytes: data)
        }
    }
}
