import Foundation

/// A one-line progress bar on standard error, redrawn at most ten times a second.
///
/// It draws only when standard error is a terminal; otherwise every call is a no-op, so logs and pipes stay clean.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int64
    private let enabled: Bool
    private let lock = NSLock()
    private var done: Int64 = 0
    private var lastDraw = Date.distantPast
    private let started = Date()

    /// Files smaller than this upload without a bar.
    static let minimumSize: Int64 = 4 << 20

    init(label: String, total: Int64) {
        self.label = label
        self.total = total
        self.enabled = isatty(STDERR_FILENO) == 1 && total >= Self.minimumSize
    }

    /// Adds `count` transferred bytes and redraws when due.
    func advance(by count: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        done += Int64(count)
        let now = Date()
        if now.timeIntervalSince(lastDraw) >= 0.1 || done >= total {
            lastDraw = now
            draw(now: now)
        }
    }

    /// Clears the bar's line, before the result line is printed.
    func finish() {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private func draw(now: Date) {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let seconds = max(now.timeIntervalSince(started), 0.001)
        let rate = Double(done) / seconds
        let percent = String(Int(fraction * 100)).leftPadded(to: 3)
        let line =
            "\r\(label) [\(bar)] \(percent)% \(formatBytes(done))/\(formatBytes(total)) \(formatBytes(Int64(rate)))/s"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// A byte count for people: `512 B`, `3.1 KiB`, `12.0 MiB`.
func formatBytes(_ count: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(count) B" : String(format: "%.1f", value) + " " + units[unit]
}

extension String {
    /// The string padded with spaces on the left to at least `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
