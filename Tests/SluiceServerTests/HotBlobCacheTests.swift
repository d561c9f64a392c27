import NIOCore
import Testing

@testable import SluiceServer

@Suite("In-memory cache of small package files")
struct HotBlobCacheTests {
    static func bytes(_ count: Int, _ value: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: [UInt8](repeating: value, count: count))
    }

    @Test func keepsSmallBlobsAndRefusesLargeOnes() {
        let cache = HotBlobCache(capacity: 100, maximumEntrySize: 40)
        #expect(cache.admits(size: 40))
        #expect(!cache.admits(size: 41))
        cache.insert(sha256: "a", bytes: Self.bytes(40, 1))
        cache.insert(sha256: "big", bytes: Self.bytes(41, 2))
        #expect(cache.bytes(sha256: "a") == Self.bytes(40, 1))
        #expect(cache.bytes(sha256: "big") == nil)
    }

    @Test func evictsTheLeastRecentlyUsedWhenFull() {
        let cache = HotBlobCache(capacity: 100, maximumEntrySize: 40)
        cache.insert(sha256: "a", bytes: Self.bytes(40, 1))
        cache.insert(sha256: "b", bytes: Self.bytes(40, 2))
        _ = cache.bytes(sha256: "a")  // b is now the least recently used
        cache.insert(sha256: "c", bytes: Self.bytes(40, 3))
        #expect(cache.bytes(sha256: "b") == nil)
        #expect(cache.bytes(sha256: "a") == Self.bytes(40, 1))
        #expect(cache.bytes(sha256: "c") == Self.bytes(40, 3))
        #expect(cache.count == 2)
    }

    @Test func aZeroCapacityCacheAdmitsNothing() {
        let cache = HotBlobCache(capacity: 0, maximumEntrySize: 1 << 20)
        #expect(!cache.admits(size: 1))
    }
}
