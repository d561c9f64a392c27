import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SluiceCore
import Synchronization

/// Counts package-file downloads in memory and writes the deltas to a ``DownloadCountStore`` in batches.
///
/// The channel route calls ``record(_:)`` per successful download (a lock and a dictionary increment, no I/O);
/// ``DownloadCountFlusher`` calls ``flush(at:)`` every few seconds and once at shutdown. Deltas, not totals, are
/// written, so several instances on one database add up; a failed flush puts its deltas back for the next one.
public final class DownloadCounter: Sendable {
    /// Where the counts are kept; nil counts nothing (the store is not a ``DownloadCountStore``).
    public let store: (any DownloadCountStore)?
    private let pending = Mutex<[DownloadKey: Int64]>([:])

    /// Creates a counter over `store`.
    public init(store: (any DownloadCountStore)?) {
        self.store = store
    }

    /// Notes one successful download of `key` (not yet written).
    public func record(_ key: DownloadKey) {
        guard store != nil else { return }
        pending.withLock { $0[key, default: 0] += 1 }
    }

    /// The downloads noted since the last flush (for tests and for showing counts that are not yet written).
    public func pendingDownloads() -> [DownloadKey: Int64] {
        pending.withLock { $0 }
    }

    /// Writes the pending deltas to the store and clears them. On failure the deltas are added back (so they are
    /// written by a later flush) and the error is rethrown.
    /// - Throws: the store's error (`.storageFailure`).
    public func flush(at date: Date = Date()) async throws {
        guard let store else { return }
        let deltas = pending.withLock { pending in
            let taken = pending
            pending = [:]
            return taken
        }
        guard !deltas.isEmpty else { return }
        do {
            try await store.addDownloads(deltas, at: date)
        } catch {
            pending.withLock { pending in
                for (key, delta) in deltas { pending[key, default: 0] += delta }
            }
            throw error
        }
    }
}

/// Flushes a ``DownloadCounter`` every ``interval`` and once more at graceful shutdown (listed before the server and
/// after the database closer, so it stops after the server and before the database closes).
public struct DownloadCountFlusher: Service {
    /// The counter to flush.
    public let counter: DownloadCounter
    /// Time between flushes (default 5 s).
    public let interval: Duration
    /// Where failed flushes are logged.
    public let logger: Logger

    /// Creates the service.
    public init(counter: DownloadCounter, interval: Duration = .seconds(5), logger: Logger) {
        self.counter = counter
        self.interval = interval
        self.logger = logger
    }

    /// Flushes periodically until graceful shutdown, then flushes the rest.
    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            await flush()
        }
        await flush()
    }

    private func flush() async {
        do {
            try await counter.flush()
        } catch {
            logger.error("Could not record download counts; will retry", metadata: ["error": "\(error)"])
        }
    }
}

extension ChannelController {
    /// Returns `response` unchanged after noting a download of `filename` when it is one: a GET answered 200, or 206
    /// whose range starts at byte 0 (a client resuming or probing later ranges is not a new download). HEAD, 304 and
    /// errors are not counted.
    func countingDownload(
        _ response: Response, of filename: String, in feed: String, subdir: String, request: Request
    ) -> Response {
        guard let downloads, request.method == .get else { return response }
        let counts: Bool
        switch response.status {
        case .ok: counts = true
        case .partialContent: counts = response.headers[.contentRange]?.hasPrefix("bytes 0-") ?? false
        default: counts = false
        }
        if counts {
            downloads.record(DownloadKey(feed: feed, subdir: subdir, filename: filename))
        }
        return response
    }
}
