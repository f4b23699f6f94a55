output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint (private)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "EKS-managed cluster security group, attached to the control plane and every managed node."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider ARN for IRSA trust policies."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer_host" {
  description = "OIDC issuer without https:// (prefix of the :sub and :aud condition keys)."
  value       = local.oidc_issuer_host
}

output "node_role_arn" {
  description = "IAM role of the managed nodes."
  value       = aws_iam_role.node.arn
}

output "cluster_name_after_nodes" {
  description = "Cluster name, available only once the cpu node group exists: for add-ons whose pods need a node to become ACTIVE (EFS CSI driver)."
  value       = aws_eks_cluster.this.name
  depends_on  = [aws_eks_node_group.cpu]
}
