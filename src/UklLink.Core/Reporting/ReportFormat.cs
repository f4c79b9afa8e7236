namespace UklLink.Reporting;

public enum ReportFormat
{
    Text,
    Json,
    Sarif,
}
