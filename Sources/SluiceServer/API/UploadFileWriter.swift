import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import SluiceCore

/// Streams a request body into a new file, counting bytes and stopping past a limit.
enum UploadFileWriter {
    /// Bytes gathered before one write to disk (on NIO's blocking-I/O thread pool).
    static let batchSize = 1 << 20

    /// Writes `body` to `file` (created exclusively, mode 0600) and returns the number of bytes written.
    /// - Throws: `SluiceError.payloadTooLarge` as soon as more than `limit` bytes arrive; `.storageFailure` if the file
    ///   cannot be created or written. The caller removes the file in every case.
    static func write(_ body: RequestBody, to file: URL, limit: Int64) async throws -> Int64 {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SluiceError(
                .storageFailure, "Cannot create the temporary upload file '\(file.path)' (errno \(errno)).")
        }
        defer { close(descriptor) }
        var total: Int64 = 0
        var pending = ByteBuffer()
        pending.reserveCapacity(batchSize)
        for try await chunk in body {
            total += Int64(chunk.readableBytes)
            guard total <= limit else {
                throw SluiceError(
                    .payloadTooLarge,
                    "The upload is larger than the configured maximum of \(limit) bytes (uploads.maxSize).")
            }
            var chunk = chunk
            pending.writeBuffer(&chunk)
            if pending.readableBytes >= batchSize {
                try await flush(pending, to: descriptor, file: file)
                pending.clear()
            }
        }
        if pending.readableBytes > 0 {
            try await flush(pending, to: descriptor, file: file)
        }
        return total
    }

    private static func flush(_ buffer: ByteBuffer, to descriptor: CInt, file: URL) async throws {
        let path = file.path
        let failure: CInt? = try await NIOThreadPool.singleton.runIfActive {
            buffer.withUnsafeReadableBytes { raw -> CInt? in
                var offset = 0
                while offset < raw.count {
                    let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += written
                }
                return nil
            }
        }
        if let failure {
            throw SluiceError(.storageFailure, "Cannot write the temporary upload file '\(path)' (errno \(failure)).")
        }
    }
}
