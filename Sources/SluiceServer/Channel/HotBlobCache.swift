import NIOCore
import Synchronization

/// Keeps the bytes of small, frequently requested blobs in memory, so that serving a small package does not open,
/// read and close a file on every request.
///
/// Blobs are content-addressed and immutable, so an entry can never go stale: there is nothing to invalidate. The
/// cache holds at most ``capacity`` bytes and only blobs of at most ``maximumEntrySize`` bytes; when full it evicts the
/// least recently used entries.
final class HotBlobCache: Sendable {
    private struct Entry {
        var bytes: ByteBuffer
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var totalBytes = 0
        var clock: UInt64 = 0
    }

    /// The most bytes held at once.
    let capacity: Int
    /// The largest blob that is kept.
    let maximumEntrySize: Int
    private let state = Mutex(State())

    init(capacity: Int, maximumEntrySize: Int) {
        self.capacity = capacity
        self.maximumEntrySize = min(maximumEntrySize, capacity)
    }

    /// Whether a blob of this size is worth caching.
    func admits(size: Int64) -> Bool {
        capacity > 0 && size <= Int64(maximumEntrySize)
    }

    /// The cached bytes of a blob, marking it as recently used.
    func bytes(sha256: String) -> ByteBuffer? {
        state.withLock { state in
            guard var entry = state.entries[sha256] else { return nil }
            state.clock &+= 1
            entry.lastUse = state.clock
            state.entries[sha256] = entry
            return entry.bytes
        }
    }

    /// Stores a blob's bytes, evicting the least recently used entries to make room.
    func insert(sha256: String, bytes: ByteBuffer) {
        guard bytes.readableBytes <= maximumEntrySize else { return }
        state.withLock { state in
            if state.entries[sha256] != nil { return }
            while state.totalBytes + bytes.readableBytes > capacity,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                state.totalBytes -= oldest.value.bytes.readableBytes
                state.entries[oldest.key] = nil
            }
            state.clock &+= 1
            state.entries[sha256] = Entry(bytes: bytes, lastUse: state.clock)
            state.totalBytes += bytes.readableBytes
        }
    }

    /// How many blobs are held (for tests).
    var count: Int { state.withLock { $0.entries.count } }
}
