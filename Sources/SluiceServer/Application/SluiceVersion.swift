/// The version of this Sluice build, reported by `GET /health.json`.
public enum SluiceVersion {
    /// The semantic version of this build.
    public static let current = "0.1.0"
}
