import Foundation

/// Validation of the names that appear in channel URLs.
public enum ChannelNames {
    /// Subdir names conda and rattler know (conda only treats a known name as a subdir).
    public static let knownSubdirs: Set<String> = [
        "noarch", "emscripten-wasm32", "wasi-wasm32", "freebsd-64", "linux-32", "linux-64", "linux-aarch64",
        "linux-armv6l", "linux-armv7l", "linux-ppc64", "linux-ppc64le", "linux-riscv64", "linux-s390x", "osx-64",
        "osx-arm64", "win-32", "win-64", "win-arm64", "zos-z", "linux-loongarch64", "linux-ppc", "linux-riscv32",
        "freebsd-32", "freebsd-arm64", "ios-arm64", "iossimulator-arm64", "iossimulator-64", "android-aarch64",
        "android-armv7a", "android-64", "android-32", "emscripten-wasm64",
    ]

    /// Whether `name` has the shape of a subdir: `noarch` or `<os>-<arch>` in `[a-z0-9]`, at most 32 characters.
    public static func isSubdir(_ name: String) -> Bool {
        if name == "noarch" { return true }
        guard name.utf8.count <= 32 else { return false }
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
        }
    }

    /// Checks a feed name: lowercase `[a-z0-9._-]`, 1–64 characters, not starting with `.` or `-`, not a subdir name.
    /// - Throws: `SluiceError.invalidInput` saying what is wrong.
    public static func validateFeedName(_ name: String) throws(SluiceError) {
        guard !name.isEmpty, name.utf8.count <= 64 else {
            throw .invalidInput("Feed name '\(name)' must be 1 to 64 characters long.")
        }
        let allowed = name.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
        guard allowed else {
            throw .invalidInput(
                "Feed name '\(name)' may contain only lowercase letters, digits, '.', '_' and '-'.")
        }
        guard let first = name.first, first != ".", first != "-" else {
            throw .invalidInput("Feed name '\(name)' must not start with '.' or '-'.")
        }
        // Only names conda knows as subdirs are ambiguous (conda strips a known trailing subdir from channel URLs);
        // `internal-conda` has a subdir's shape but is not one.
        guard !knownSubdirs.contains(name) else {
            throw .invalidInput(
                "Feed name '\(name)' is a subdir name; conda would mistake it for a platform. Choose another name.")
        }
        guard name != "t" else {
            throw .invalidInput("Feed name 't' is reserved for token paths (/conda/t/<key>/...).")
        }
    }
}
