output "file_system_id" {
  description = "EFS file system ID (PersistentVolume volumeHandle <file_system_id>::<access_point_id>)."
  value       = aws_efs_file_system.this.id
}

output "file_system_arn" {
  description = "EFS file system ARN."
  value       = aws_efs_file_system.this.arn
}

output "access_point_id" {
  description = "Access point (uid/gid 10001, root directory) every pod mounts through."
  value       = aws_efs_access_point.this.id
}

output "security_group_id" {
  description = "Security group of the mount targets."
  value       = aws_security_group.this.id
}

output "csi_driver_role_arn" {
  description = "IRSA role of the aws-efs-csi-driver add-on."
  value       = aws_iam_role.csi.arn
}
