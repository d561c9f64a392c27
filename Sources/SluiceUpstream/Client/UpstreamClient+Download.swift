import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import SluiceCore

extension UpstreamClient {
    /// Downloads `<channel>/<subdir>/<filename>` into `temporaryFile`, verifying it against the upstream record.
    ///
    /// The body is streamed: each chunk is written to the file, hashed (sha256 and md5), and then handed to
    /// `onChunk` so a client can be served while the file is written; memory stays bounded by the HTTP client's
    /// back-pressure, whatever the file size. If `onChunk` throws (the client went away), it is not called again but
    /// the download continues, so the cache still fills. When the body ends, the size and the sha256 (or, when the
    /// record has none, the md5) must match `expected`.
    ///
    /// On any failure `temporaryFile` is deleted, so a bad download can never enter the cache. Bytes already given to
    /// `onChunk` cannot be taken back: a caller that streams to a client must abort that response when this throws.
    ///
    /// - Returns: the verified file's size and hashes.
    /// - Throws: `SluiceError.notFound` when the upstream has no such file (404/410);
    ///   `SluiceError.upstreamUnavailable` on a size or checksum mismatch, a connection cut mid-body, 5xx, 401/403;
    ///   `SluiceError.upstreamTimeout` when the upstream does not answer or stalls for the channel's timeout;
    ///   `SluiceError.storageFailure` when the temporary file cannot be written; `SluiceError.invalidInput` when
    ///   `subdir` or `filename` is not a valid subdir or package file name.
    @discardableResult
    public func downloadPackage(
        channel: UpstreamChannel,
        subdir: String,
        filename: String,
        expected: ExpectedFile,
        to temporaryFile: URL,
        onChunk: @escaping @Sendable (ByteBuffer) async throws -> Void = { _ in }
    ) async throws(SluiceError) -> DownloadedFile {
        guard ChannelNames.isSubdir(subdir) else {
            throw .invalidInput("'\(subdir)' is not a conda subdir name.")
        }
        guard PackageFilename(filename) != nil else {
            throw .invalidInput("'\(filename)' is not a conda package file name.")
        }
        let url = channel.url(subdir: subdir, filename: filename)
        let display = UpstreamChannel.redactingCredentials(in: url)
        do throws(SluiceError) {
            let response: HTTPClientResponse
            switch try await get(url, channel: channel) {
            case .ok(let ok):
                response = ok
            case .notModified:
                throw SluiceError(.upstreamUnavailable, "\(display): the upstream answered 304 to a plain GET.")
            case .status(let status) where status.code == 404 || status.code == 410:
                throw SluiceError(
                    .notFound,
                    "\(display): the upstream does not have \(filename) (\(status.code)) although its repodata lists it."
                )
            case .status(let status):
                throw Self.statusError(status, url: display)
            }
            if let announced = response.headers.first(name: "Content-Length").flatMap(Int64.init),
                announced != expected.size
            {
                // Dropping the unread body cancels the request and closes that connection.
                throw SluiceError(
                    .upstreamUnavailable,
                    "\(display): the upstream announced \(announced) bytes but its repodata says \(expected.size); "
                        + "refusing the file.")
            }
            let downloaded = try await stream(
                response, url: display, expected: expected, to: temporaryFile, timeout: channel.timeout,
                onChunk: onChunk)
            logger.debug(
                "upstream package downloaded and verified",
                metadata: ["upstream.url": "\(display)", "size": "\(downloaded.size)"])
            return downloaded
        } catch {
            try? FileManager.default.removeItem(at: temporaryFile)
            logger.warning(
                "upstream package download failed",
                metadata: ["upstream.url": "\(display)", "error": "\(error.message)"])
            throw error
        }
    }

    /// Streams the body into the file and hashes it; checks size and checksum at the end.
    private func stream(
        _ response: HTTPClientResponse,
        url: String,
        expected: ExpectedFile,
        to file: URL,
        timeout: Duration,
        onChunk: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws(SluiceError) -> DownloadedFile {
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
            throw SluiceError(.storageFailure, "Could not create the temporary file \(file.path).")
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forWritingTo: file)
        } catch {
            throw SluiceError(.storageFailure, "Could not open the temporary file \(file.path).", cause: error)
        }
        let body = response.body
        let counted: (size: Int64, sha256: String, md5: String)
        do {
            defer { try? handle.close() }
            counted = try await withIdleTimeout(timeout) { progress in
                var sha256 = SHA256()
                var md5 = Insecure.MD5()
                var received: Int64 = 0
                var clientAttached = true
                for try await chunk in body {
                    progress.touch()
                    received += Int64(chunk.readableBytes)
                    guard received <= expected.size else {
                        throw SluiceError(
                            .upstreamUnavailable,
                            "\(url): the upstream sent more than the \(expected.size) bytes its repodata lists; "
                                + "discarded the download.")
                    }
                    chunk.withUnsafeReadableBytes { bytes in
                        sha256.update(bufferPointer: bytes)
                        md5.update(bufferPointer: bytes)
                    }
                    do {
                        try chunk.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
                    } catch {
                        throw SluiceError(
                            .storageFailure, "Could not write the temporary file \(file.path).", cause: error)
                    }
                    if clientAttached {
                        do {
                            try await onChunk(chunk)
                        } catch {
                            clientAttached = false
                        }
                    }
                }
                return (received, sha256.finalize().hexString, md5.finalize().hexString)
            }
        } catch {
            let mapped = Self.transportError(error, url: url, timeout: timeout)
            if mapped.code == .upstreamUnavailable, !(error is SluiceError) {
                throw SluiceError(
                    .upstreamUnavailable,
                    "\(url): the connection was cut before the file was complete (\(error)); discarded the download.",
                    cause: error)
            }
            throw mapped
        }
        guard counted.size == expected.size else {
            throw SluiceError(
                .upstreamUnavailable,
                "\(url): received \(counted.size) bytes but the upstream's repodata lists \(expected.size); "
                    + "the connection was cut or the file changed. Discarded the download.")
        }
        if let sha256 = expected.sha256 {
            guard counted.sha256 == sha256 else {
                throw SluiceError(
                    .upstreamUnavailable,
                    "\(url): sha256 of the downloaded bytes is \(counted.sha256) but the upstream's repodata says "
                        + "\(sha256); discarded the download.")
            }
        } else if let md5 = expected.md5 {
            guard counted.md5 == md5 else {
                throw SluiceError(
                    .upstreamUnavailable,
                    "\(url): md5 of the downloaded bytes is \(counted.md5) but the upstream's repodata says \(md5); "
                        + "discarded the download.")
            }
        } else {
            logger.warning(
                "upstream record has neither sha256 nor md5; only the size was verified",
                metadata: ["upstream.url": "\(url)"])
        }
        return DownloadedFile(file: file, size: counted.size, sha256: counted.sha256, md5: counted.md5)
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal digits.
    fileprivate var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var result: [UInt8] = []
        for byte in self {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: result, as: UTF8.self)
    }
}
